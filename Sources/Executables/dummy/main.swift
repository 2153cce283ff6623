import CNISkeleton
import DummyPlugin

PluginMain.run(DummyPlugin.plugin)
