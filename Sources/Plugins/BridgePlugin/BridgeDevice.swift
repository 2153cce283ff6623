import CNISkeleton
import Netlink
import PluginSupport

/// The host bridge: found or created, and given gateway addresses.
enum BridgeDevice {
    /// The bridge, created when missing (with the configured MTU, and VLAN filtering when
    /// VLANs are used). Returns whether this call created it.
    static func ensure(_ route: RouteNetlink, _ conf: BridgeConfig, sysctl: any SysctlScope) throws
        -> (Link, created: Bool)
    {
        var created = false
        var found = try? route.link(named: conf.bridge)
        if found == nil {
            let spec = LinkSpec(
                name: conf.bridge, kind: .bridge(vlanFiltering: conf.usesVlans ? true : nil), mtu: conf.mtu)
            switch Result(catching: { () throws(NetlinkError) in try route.addLink(spec) }) {
            case .success: created = true
            case .failure(let error) where error.errno == .fileExists: break  // another ADD won the race
            case .failure(let error) where error.kind == .unsupported:
                throw CNIError(
                    .internalError, error.description, details: "key: vlan/vlanTrunk need bridge VLAN filtering")
            case .failure(let error): throw error
            }
            found = try route.link(named: conf.bridge)
        }
        guard var bridge = found, bridge.kind == "bridge" else {
            throw CNIError(
                .invalidNetworkConfig, "\"\(conf.bridge)\" already exists but is not a bridge", details: "key: bridge")
        }
        var changed = false
        if conf.promiscMode, !bridge.flags.contains(.promiscuous) {
            try route.setLink(index: bridge.index, .promiscuous(true))
            changed = true
        }
        try? sysctl.access { try $0.write("net/ipv6/conf/\(conf.bridge)/accept_ra", "0") }
        if !bridge.isUp {
            try route.setLink(index: bridge.index, up: true)
            changed = true
        }
        // Read again only what this call changed: most ADDs find the bridge up and as configured.
        if changed { bridge = try route.link(index: bridge.index) }
        return (bridge, created)
    }

    /// Deletes a bridge this ADD created, unless another attachment already uses it.
    static func removeIfUnused(_ route: RouteNetlink, index: Int32) throws {
        let ports = try route.links().filter { $0.masterIndex == index }
        if ports.isEmpty { try? route.deleteLink(index: index) }
    }

    /// Puts `gateway/prefix` on the bridge. IPv4 bridges hold one address: a different one is
    /// an error unless `forceAddress`, which replaces it. IPv6 allows several as long as their
    /// subnets differ. Returns true when this call added the address.
    static func ensureAddress(_ route: RouteNetlink, bridge: Link, gateway: IPPrefix, force: Bool) throws -> Bool {
        let family: AddressFamily = gateway.address.isV4 ? .inet : .inet6
        for existing in try route.addresses(family: family, index: UInt32(bridge.index)) {
            guard let current = existing.prefix else { continue }
            if current == gateway { return false }
            if !gateway.address.isV4, !current.contains(gateway.address), !gateway.contains(current.address) {
                continue
            }
            if current.address.isLinkLocalUnicast { continue }
            guard force else {
                throw CNIError(.internalError, "\"\(bridge.name)\" already has an IP address different from \(gateway)")
            }
            try route.deleteAddress(AddressSpec(index: bridge.index, address: current))
        }
        switch Result(catching: { () throws(NetlinkError) in
            try route.addAddress(AddressSpec(index: bridge.index, address: gateway, broadcast: gateway.broadcast))
        }) {
        case .success: break
        case .failure(let error) where error.errno == .fileExists: return false  // a concurrent ADD added it
        case .failure(let error):
            throw CNIError(.internalError, "could not add IP address to \"\(bridge.name)\": \(error)")
        }
        // Pin the bridge MAC, as it is now that ports have joined, so it stops following its
        // lowest-numbered port.
        if let current = try? route.link(index: bridge.index), !current.hardwareAddress.isEmpty {
            try? route.setLink(index: bridge.index, .hardwareAddress(current.hardwareAddress))
        }
        return true
    }
}
