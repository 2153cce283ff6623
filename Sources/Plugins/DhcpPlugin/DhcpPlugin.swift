import CNISkeleton

/// The `dhcp` plugin. Not implemented yet: it answers VERSION and rejects every other command.
public enum DhcpPlugin {
    /// The plugin instance the executables run.
    public static let plugin = UnimplementedPlugin(type: "dhcp")
}
