import CNISkeleton
import SbrPlugin

PluginMain.run(SbrPlugin.plugin)
