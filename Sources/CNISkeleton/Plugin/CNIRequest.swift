/// Everything one plugin invocation received: the environment variables and the config.
public struct CNIRequest: Sendable {
    public let command: CNICommand
    /// `CNI_CONTAINERID` (empty for GC and STATUS).
    public let containerID: String
    /// `CNI_NETNS`; may be empty for DEL.
    public let netns: String
    /// `CNI_IFNAME`.
    public let ifname: String
    /// `CNI_ARGS`.
    public let args: CNIArgs
    /// `CNI_PATH`, split on `:`.
    public let path: [String]
    /// The exact stdin bytes, passed unchanged to delegated plugins.
    public let stdin: [UInt8]
    /// The decoded config.
    public let config: NetworkConfig

    public init(
        command: CNICommand, containerID: String, netns: String, ifname: String, args: CNIArgs,
        path: [String], stdin: [UInt8], config: NetworkConfig
    ) {
        self.command = command
        self.containerID = containerID
        self.netns = netns
        self.ifname = ifname
        self.args = args
        self.path = path
        self.stdin = stdin
        self.config = config
    }
}
