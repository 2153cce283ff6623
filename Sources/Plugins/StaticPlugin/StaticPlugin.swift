import CNISkeleton

/// The `static` plugin. Not implemented yet: it answers VERSION and rejects every other command.
public enum StaticPlugin {
    /// The plugin instance the executables run.
    public static let plugin = UnimplementedPlugin(type: "static")
}
