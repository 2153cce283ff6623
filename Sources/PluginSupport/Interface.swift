import CNISkeleton
import Netlink

extension ContainerNetwork {
    /// Configures the container interface from an IPAM result, as the reference's
    /// `ipam.ConfigureIface`: IPv6 sysctls, addresses, link up, DAD settling when an IPv6
    /// gateway is present, then routes (appended, a route without gateway using the first
    /// gateway of its family).
    public static func configureInterface(
        _ result: CNIResult, ifname: String, container: ContainerNamespace
    ) throws {
        let route = container.route
        guard !result.interfaces.isEmpty else { throw CNIError(.internalError, "no interfaces to configure") }
        let link = try route.link(named: ifname)
        for ip in result.ips {
            if let index = ip.interface, index >= result.interfaces.count || result.interfaces[index].name != ifname {
                throw CNIError(
                    .internalError, "failed to add IP addr \(ip.address) to \"\(ifname)\": invalid interface index")
            }
        }
        let hasV6 = result.ips.contains { !$0.address.address.isV4 }
        if hasV6 {
            try container.sysctl.access { values in
                for key in ["net/ipv6/conf/lo/disable_ipv6", "net/ipv6/conf/\(ifname)/disable_ipv6"] {
                    try values.ensure(key, "0")
                }
                try values.write("net/ipv6/conf/\(ifname)/keep_addr_on_down", "1")
            }
        }
        for ip in result.ips {
            try route.addAddress(
                AddressSpec(index: link.index, address: ip.address, broadcast: ip.address.broadcast))
        }
        try route.setLink(index: link.index, up: true)
        if result.ips.contains(where: { !$0.address.address.isV4 && $0.gateway != nil }) {
            guard
                try route.waitForIPv6Settled(index: link.index)
                    || !(try route.link(index: link.index).flags.contains(.running))
            else {
                throw CNIError(.internalError, "failed to settle addresses for \"\(ifname)\": timed out")
            }
        }
        for r in result.routes {
            let gateway =
                r.gw ?? result.ips.first { $0.address.address.isV4 == r.dst.address.isV4 && $0.gateway != nil }?.gateway
            try route.appendRoute(RouteSpec(r, gateway: gateway, outputIndex: link.index))
        }
    }
}

extension RouteSpec {
    /// A kernel route for a result route through link `outputIndex`. Result decoding bounds
    /// every field to what the kernel holds; anything else is clamped here, never trapped on.
    public init(_ r: CNIResult.Route, gateway: IPAddress?, outputIndex: Int32) {
        self.init(
            destination: r.dst.masked, gateway: gateway,
            outputIndex: outputIndex, priority: r.priority == 0 ? nil : UInt32(clamping: r.priority),
            table: r.table.map { UInt32(clamping: $0) } ?? mainRoutingTable,
            scope: r.scope.flatMap { Scope(rawValue: UInt8(truncatingIfNeeded: $0)) } ?? .universe,
            mtu: r.mtu == 0 ? nil : UInt32(clamping: r.mtu), advmss: r.advmss == 0 ? nil : UInt32(clamping: r.advmss))
    }
}

/// IP forwarding on the host, written only when not already on.
public enum Forwarding {
    /// `route` (the host's), when given, answers for IPv4 first: most ADDs find forwarding on
    /// and never look up `/proc/sys/net/ipv4`.
    public static func enable(
        v4: Bool, v6: Bool, sysctl: any SysctlScope = HostSysctls(), route: RouteNetlink? = nil
    ) throws {
        let v4 = v4 && (try? route?.ipv4Forwarding()) != true
        guard v4 || v6 else { return }
        do {
            try sysctl.access { values in
                if v4 { try values.ensure("net/ipv4/ip_forward", "1") }
                if v6 { try values.ensure("net/ipv6/conf/all/forwarding", "1") }
            }
        } catch {
            throw CNIError(.internalError, "Could not enable IP forwarding: \(error)")
        }
    }
}
