import CNISkeleton
import Netfilter
import Netlink

/// How a plugin reaches the kernel: `.live` opens real sockets in the calling thread's netns;
/// a test passes fakes (an `NFTClient` or `RouteNetlink` over a recording transport), so the
/// plugin's ADD, DEL, CHECK and GC run without root and their exact requests can be checked.
public struct KernelContext: Sendable {
    /// A netfilter (nftables) connection.
    public var netfilter: @Sendable () throws -> NFTClient
    /// A route netlink connection in the host (node) namespace.
    public var hostRoute: @Sendable () throws -> RouteNetlink
    /// A route netlink connection inside the container's network namespace (`CNI_NETNS`).
    public var containerRoute: @Sendable (_ netns: String) throws -> RouteNetlink
    /// Deletes the conntrack entries of one destination port (`Conntrack.deleteEntries`).
    public var deleteConntrack:
        @Sendable (_ family: UInt8, _ protocolNumber: UInt8, _ port: UInt16, _ destination: IPAddress?) throws -> Int

    public init(
        netfilter: @escaping @Sendable () throws -> NFTClient, hostRoute: @escaping @Sendable () throws -> RouteNetlink,
        containerRoute: @escaping @Sendable (_ netns: String) throws -> RouteNetlink = {
            try ContainerNetwork.routeSocket(netns: $0)
        },
        deleteConntrack:
            @escaping @Sendable (
                _ family: UInt8, _ protocolNumber: UInt8, _ port: UInt16, _ destination: IPAddress?
            ) throws -> Int = {
                try Conntrack.deleteEntries(family: $0, protocolNumber: $1, destinationPort: $2, destination: $3)
            }
    ) {
        self.netfilter = netfilter
        self.hostRoute = hostRoute
        self.containerRoute = containerRoute
        self.deleteConntrack = deleteConntrack
    }

    /// The running kernel.
    public static let live = KernelContext(netfilter: { try NFTClient() }, hostRoute: { try RouteNetlink() })
}
