/// The release this suite reports in its about line.
public let swiftCNIVersion = "0.1.0"

/// One CNI plugin. `PluginMain` validates the environment and config, then calls these.
///
/// Handlers are synchronous: a plugin is one short process. A thrown `CNIError` reaches the
/// runtime unchanged; any other error becomes code 999 with its description as the message.
public protocol CNIPlugin: Sendable {
    /// The CNI type, which is also the executable name.
    var type: String { get }
    /// The line printed when the binary runs without `CNI_COMMAND`.
    var about: String { get }
    /// The config versions this plugin accepts (exact strings).
    var supportedVersions: [String] { get }

    /// Creates or configures the attachment and returns its result.
    func add(_ request: CNIRequest) throws -> CNIResult
    /// Removes the attachment; must succeed when things are already gone.
    func del(_ request: CNIRequest) throws
    /// Verifies the attachment against `prevResult`.
    func check(_ request: CNIRequest) throws
    /// Removes resources of attachments not in `cni.dev/valid-attachments`.
    func gc(_ request: CNIRequest) throws
    /// Reports whether ADD can be served now.
    func status(_ request: CNIRequest) throws
}

extension CNIPlugin {
    public var about: String { "CNI \(type) plugin swift-cni v\(swiftCNIVersion)" }
    public var supportedVersions: [String] { SpecVersion.all }
    /// By default GC has nothing to collect, like a Go plugin without a GC handler.
    public func gc(_ request: CNIRequest) throws {}
    /// By default the plugin is always ready, like a Go plugin without a STATUS handler.
    public func status(_ request: CNIRequest) throws {}
}
