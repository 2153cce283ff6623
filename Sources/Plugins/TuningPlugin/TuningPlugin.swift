import CNISkeleton

/// The `tuning` plugin. Not implemented yet: it answers VERSION and rejects every other command.
public enum TuningPlugin {
    /// The plugin instance the executables run.
    public static let plugin = UnimplementedPlugin(type: "tuning")
}
