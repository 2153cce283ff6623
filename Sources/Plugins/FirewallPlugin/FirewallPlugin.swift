import CNISkeleton

/// The `firewall` plugin. Not implemented yet: it answers VERSION and rejects every other command.
public enum FirewallPlugin {
    /// The plugin instance the executables run.
    public static let plugin = UnimplementedPlugin(type: "firewall")
}
