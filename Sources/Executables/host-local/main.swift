import CNISkeleton
import HostLocalPlugin

PluginMain.run(HostLocalPlugin.plugin)
