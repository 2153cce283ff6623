import CNISkeleton
import BandwidthPlugin

PluginMain.run(BandwidthPlugin.plugin)
