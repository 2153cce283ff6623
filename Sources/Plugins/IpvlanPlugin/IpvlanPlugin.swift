import CNISkeleton

/// The `ipvlan` plugin. Not implemented yet: it answers VERSION and rejects every other command.
public enum IpvlanPlugin {
    /// The plugin instance the executables run.
    public static let plugin = UnimplementedPlugin(type: "ipvlan")
}
