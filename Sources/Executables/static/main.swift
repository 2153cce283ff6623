import CNISkeleton
import StaticPlugin

PluginMain.run(StaticPlugin.plugin)
