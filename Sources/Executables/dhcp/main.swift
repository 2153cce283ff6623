import CNISkeleton
import DhcpPlugin

DhcpPlugin.runDaemonIfAsked()
PluginMain.run(DhcpPlugin.plugin)
