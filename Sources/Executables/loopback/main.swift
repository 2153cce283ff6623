import CNISkeleton
import LoopbackPlugin

PluginMain.run(LoopbackPlugin.plugin)
