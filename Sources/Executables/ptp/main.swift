import CNISkeleton
import PtpPlugin

PluginMain.run(PtpPlugin.plugin)
