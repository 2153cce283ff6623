import CNISkeleton

/// The `bridge` plugin. Not implemented yet: it answers VERSION and rejects every other command.
public enum BridgePlugin {
    /// The plugin instance the executables run.
    public static let plugin = UnimplementedPlugin(type: "bridge")
}
