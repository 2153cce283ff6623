import CNISkeleton

/// The `ptp` plugin. Not implemented yet: it answers VERSION and rejects every other command.
public enum PtpPlugin {
    /// The plugin instance the executables run.
    public static let plugin = UnimplementedPlugin(type: "ptp")
}
