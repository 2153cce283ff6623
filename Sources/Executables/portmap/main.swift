import CNISkeleton
import PortmapPlugin

PluginMain.run(PortmapPlugin.plugin)
