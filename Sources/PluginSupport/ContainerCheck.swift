import CNISkeleton
import Netlink

/// CHECK helpers shared by the interface plugins.
public enum ContainerCheck {
    /// Every prevResult address of `ifname` is on the link, and every prevResult route exists
    /// (extra routes are fine: later plugins may add them).
    public static func addressesAndRoutes(_ previous: CNIResult, ifname: String, link: Link, route: RouteNetlink) throws
    {
        let index = previous.interfaces.firstIndex { $0.name == ifname && !$0.sandbox.isEmpty }
        var present: [IPAddress] = []
        for family in [AddressFamily.inet, .inet6] {
            present += try route.addresses(family: family, index: UInt32(link.index)).compactMap(\.address)
        }
        for ip in previous.ips where ip.interface == nil || ip.interface == index {
            guard present.contains(ip.address.address) else {
                throw CNIError(.internalError, "Failed to match addr \(ip.address) on interface \(ifname)")
            }
        }
        var routes: [RouteSpec] = []
        for family in [AddressFamily.inet, .inet6] { routes += try route.routes(family: family) }
        for r in previous.routes {
            let found = routes.contains { $0.destination == r.dst.masked && (r.gw == nil || $0.gateway == r.gw) }
            guard found else { throw CNIError(.internalError, "Failed to match route \(r.dst) on interface \(ifname)") }
        }
    }
}
