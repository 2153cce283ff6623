import CNISkeleton
import Netlink
import PluginSupport

/// With `isGateway` and an access `vlan`, the gateway address cannot sit on the bridge (whose
/// own port is untagged VLAN 1): it goes on `<bridge>.<vlan>`, one end of a host veth pair
/// whose other end is a bridge port with that VLAN as PVID, untagged. Made once per VLAN and
/// shared by every attachment on it, so DEL leaves it, as the reference does.
///
/// The reference's first ADD addresses the bridge-side end (its random name) and later ADDs
/// the `<bridge>.<vlan>` end; here the address always goes on `<bridge>.<vlan>`, and the port
/// end's name is derived from it, so a node shows the same names after every ADD.
enum BridgeVlanGateway {
    static func name(_ conf: BridgeConfig) -> String { "\(conf.bridge).\(conf.vlan)" }

    /// The bridge port end: `veth` and 8 hex digits of the gateway's name.
    static func portName(_ conf: BridgeConfig) -> String { "veth" + SHA512.hexPrefix(name(conf), length: 8) }

    /// The gateway interface, created with its port when missing. Returns whether this call made it.
    static func ensure(_ route: RouteNetlink, bridge: Link, _ conf: BridgeConfig) throws -> (Link, created: Bool) {
        let name = name(conf)
        guard name.utf8.count <= 15 else {
            throw CNIError(
                .invalidNetworkConfig, "VLAN gateway interface name \"\(name)\" is longer than 15 bytes",
                details: "key: bridge")
        }
        if let existing = try? route.link(named: name) { return (try checked(existing, name), false) }
        let spec = LinkSpec(
            name: name, kind: .veth(peer: VethPeer(name: portName(conf), mtu: bridge.mtu)), mtu: bridge.mtu)
        switch Result(catching: { () throws(NetlinkError) in try route.addLink(spec) }) {
        case .success: break
        case .failure(let error) where error.errno == .fileExists:
            // A concurrent ADD on the same VLAN made it first.
            return (try checked(try route.link(named: name), name), false)
        case .failure(let error):
            throw CNIError(.internalError, "failed to create vlan gateway \"\(name)\": \(error)")
        }
        let gateway = try route.link(named: name)
        do {
            let port = try route.link(named: portName(conf))
            try route.setLink(index: port.index, .master(bridge.index))
            if !conf.preserveDefaultVlan { try? route.deleteBridgeVlan(index: port.index, BridgeVlan(id: 1)) }
            try route.addBridgeVlan(index: port.index, BridgeVlan(id: UInt16(conf.vlan), pvid: true, untagged: true))
            try route.setLink(index: port.index, up: true)
            try route.setLink(index: gateway.index, up: true)
            return (try route.link(index: gateway.index), true)
        } catch {
            try? route.deleteLink(index: gateway.index)
            throw error
        }
    }

    private static func checked(_ link: Link, _ name: String) throws -> Link {
        guard link.kind == "veth" else {
            throw CNIError(
                .invalidNetworkConfig, "\"\(name)\" already exists but is not a VLAN gateway veth",
                details: "key: vlan")
        }
        return link
    }
}
