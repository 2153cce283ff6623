import CNISkeleton

/// The `portmap` plugin. Not implemented yet: it answers VERSION and rejects every other command.
public enum PortmapPlugin {
    /// The plugin instance the executables run.
    public static let plugin = UnimplementedPlugin(type: "portmap")
}
