import CNISkeleton
import Netlink

/// VLAN membership of a bridge port, with the reference's semantics: unless
/// `preserveDefaultVlan`, the bridge's default VLAN 1 leaves the port; `vlan` becomes the
/// port's PVID and untagged VLAN; trunk VLANs are tagged; a trunk without `vlan` keeps
/// VLAN 1 as the native (PVID, untagged) VLAN.
enum BridgeVlans {
    static func apply(_ route: RouteNetlink, port: Int32, _ conf: BridgeConfig) throws {
        do {
            if !conf.preserveDefaultVlan { try? route.deleteBridgeVlan(index: port, BridgeVlan(id: 1)) }
            if conf.vlan != 0 {
                try route.addBridgeVlan(index: port, BridgeVlan(id: UInt16(conf.vlan), pvid: true, untagged: true))
            } else if !conf.preserveDefaultVlan {
                try route.addBridgeVlan(index: port, BridgeVlan(id: 1, pvid: true, untagged: true))
            }
            for id in conf.vlanTrunk { try route.addBridgeVlan(index: port, BridgeVlan(id: UInt16(id))) }
        } catch {
            guard error.kind == .unsupported else { throw error }
            throw CNIError(.internalError, error.description, details: "key: vlan/vlanTrunk need bridge VLAN filtering")
        }
    }
}
