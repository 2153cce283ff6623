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

    public init(
        netfilter: @escaping @Sendable () throws -> NFTClient, hostRoute: @escaping @Sendable () throws -> RouteNetlink
    ) {
        self.netfilter = netfilter
        self.hostRoute = hostRoute
    }

    /// The running kernel.
    public static let live = KernelContext(netfilter: { try NFTClient() }, hostRoute: { try RouteNetlink() })
}
