import CNISkeleton
import IpvlanPlugin

PluginMain.run(IpvlanPlugin.plugin)
