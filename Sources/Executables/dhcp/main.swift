import CNISkeleton
import DhcpPlugin

PluginMain.run(DhcpPlugin.plugin)
