import CNISkeleton
import TapPlugin

PluginMain.run(TapPlugin.plugin)
