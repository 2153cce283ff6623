import CNISkeleton
import MacvlanPlugin

PluginMain.run(MacvlanPlugin.plugin)
