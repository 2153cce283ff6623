import CNISkeleton
import FirewallPlugin

PluginMain.run(FirewallPlugin.plugin)
