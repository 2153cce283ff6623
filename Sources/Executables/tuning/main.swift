import CNISkeleton
import TuningPlugin

PluginMain.run(TuningPlugin.plugin)
