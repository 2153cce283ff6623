import CNISkeleton
import VrfPlugin

PluginMain.run(VrfPlugin.plugin)
