import CNISkeleton

/// The `bandwidth` plugin. Not implemented yet: it answers VERSION and rejects every other command.
public enum BandwidthPlugin {
    /// The plugin instance the executables run.
    public static let plugin = UnimplementedPlugin(type: "bandwidth")
}
