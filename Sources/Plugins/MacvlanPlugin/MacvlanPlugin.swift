import CNISkeleton

/// The `macvlan` plugin. Not implemented yet: it answers VERSION and rejects every other command.
public enum MacvlanPlugin {
    /// The plugin instance the executables run.
    public static let plugin = UnimplementedPlugin(type: "macvlan")
}
