import CNISkeleton

/// The `host-local` plugin. Not implemented yet: it answers VERSION and rejects every other command.
public enum HostLocalPlugin {
    /// The plugin instance the executables run.
    public static let plugin = UnimplementedPlugin(type: "host-local")
}
