import CNISkeleton
import Netfilter
import Netlink

/// How a plugin reaches the kernel and its IPAM plugin: `.live` opens real sockets and
/// execs IPAM; a test passes fakes (an `NFTClient` or `RouteNetlink` over a recording
/// transport, a fake sysctl table, a fake IPAM), so the plugin's ADD, DEL, CHECK and GC run
/// without root and their exact requests can be checked.
public struct KernelContext: Sendable {
    /// A netfilter (nftables) connection.
    public var netfilter: @Sendable () throws -> NFTClient
    /// A route netlink connection in the host (node) namespace.
    public var hostRoute: @Sendable () throws -> RouteNetlink
    /// The host's `/proc/sys`.
    public var hostSysctl: any SysctlScope
    /// The host's link notifications from now on (``LinkWatch``); nil when there are none to
    /// read (a test's fake kernel, or the subscription failed), and callers ask instead.
    public var hostLinkWatch: @Sendable () -> LinkWatch?
    /// The container's network namespace (`CNI_NETNS`), prepared for `needs`; throws
    /// `NamespaceError.notExist` when it is gone.
    public var openContainer: @Sendable (_ netns: String, _ needs: ContainerNeeds) throws -> ContainerNamespace
    /// Deletes the conntrack entries of one destination port (`Conntrack.deleteEntries`).
    public var deleteConntrack:
        @Sendable (_ family: UInt8, _ protocolNumber: UInt8, _ port: UInt16, _ destination: IPAddress?) throws -> Int
    /// The IPAM plugin named by the config.
    public var ipam: IPAMRunner
    /// Takes the node's netfilter lock (``NetfilterLock``), released when the returned value
    /// goes; tests run one call at a time and take none.
    public var netfilterLock: @Sendable () throws -> NetfilterLock?

    public init(
        netfilter: @escaping @Sendable () throws -> NFTClient, hostRoute: @escaping @Sendable () throws -> RouteNetlink,
        hostSysctl: any SysctlScope = HostSysctls(), hostLinkWatch: @escaping @Sendable () -> LinkWatch? = { nil },
        container: @escaping @Sendable (_ netns: String, _ needs: ContainerNeeds) throws -> ContainerNamespace = {
            try ContainerNamespace.live(path: $0, needs: $1)
        },
        deleteConntrack:
            @escaping @Sendable (
                _ family: UInt8, _ protocolNumber: UInt8, _ port: UInt16, _ destination: IPAddress?
            ) throws -> Int = {
                try Conntrack.deleteEntries(family: $0, protocolNumber: $1, destinationPort: $2, destination: $3)
            },
        ipam: IPAMRunner = .exec, netfilterLock: @escaping @Sendable () throws -> NetfilterLock? = { nil }
    ) {
        self.netfilter = netfilter
        self.hostRoute = hostRoute
        self.hostSysctl = hostSysctl
        self.hostLinkWatch = hostLinkWatch
        self.openContainer = container
        self.deleteConntrack = deleteConntrack
        self.ipam = ipam
        self.netfilterLock = netfilterLock
    }

    /// The running kernel.
    public static let live = KernelContext(
        netfilter: { try NFTClient() }, hostRoute: { try RouteNetlink() }, hostLinkWatch: { try? LinkWatch() },
        netfilterLock: { try NetfilterLock() })

    /// The container's network namespace (`CNI_NETNS`), prepared for `needs`.
    public func container(_ netns: String, needs: ContainerNeeds = []) throws -> ContainerNamespace {
        try openContainer(netns, needs)
    }

    /// A route socket inside the container's netns.
    public func containerRoute(_ netns: String) throws -> RouteNetlink { try container(netns).route }
}

/// How a flow reaches its IPAM plugin: by exec through `CNI_PATH` (in-process when the file
/// found there is this multi-call binary), or a fake in tests.
public struct IPAMRunner: Sendable {
    /// IPAM ADD; its result in the 1.1.0 model.
    public var add: @Sendable (_ type: String, _ request: CNIRequest) throws -> CNIResult
    /// IPAM DEL, CHECK, GC or STATUS.
    public var run: @Sendable (_ type: String, _ command: CNICommand, _ request: CNIRequest) throws -> Void

    public init(
        add: @escaping @Sendable (_ type: String, _ request: CNIRequest) throws -> CNIResult,
        run: @escaping @Sendable (_ type: String, _ command: CNICommand, _ request: CNIRequest) throws -> Void
    ) {
        self.add = add
        self.run = run
    }

    /// The plugin binary, as the runtime would run it.
    public static let exec = IPAMRunner(
        add: { try Delegate.add($0, request: $1) }, run: { try Delegate.run($0, command: $1, request: $2) })
}
