import CNISkeleton
import VlanPlugin

PluginMain.run(VlanPlugin.plugin)
