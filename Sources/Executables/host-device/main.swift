import CNISkeleton
import HostDevicePlugin

PluginMain.run(HostDevicePlugin.plugin)
