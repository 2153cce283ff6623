import CNISkeleton
import BridgePlugin

PluginMain.run(BridgePlugin.plugin)
