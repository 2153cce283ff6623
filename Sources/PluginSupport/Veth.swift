import CNISkeleton
import Netlink

/// The two ends of a container's veth pair.
public struct VethPair: Sendable {
    public var host: Link
    public var container: Link
}

extension ContainerNetwork {
    /// A random host-side name, `veth` plus 8 hex digits, as the reference makes them.
    public static func randomVethName() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = UInt32.random(in: 0...UInt32.max, using: &generator)
        let hex = String(value, radix: 16)
        return "veth" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// Creates a veth pair whose container end is `ifname` inside `namespace` and whose host
    /// end gets a fresh `veth<8hex>` name, retrying name clashes up to 10 times. The host
    /// end is brought up with `accept_ra=0`, as the reference does.
    ///
    /// Fails when the container already has `ifname` (the spec requires that ADD fails then).
    public static func createVeth(host: RouteNetlink, container: RouteNetlink, namespace: NetworkNamespace,
                                  ifname: String, mtu: UInt32?, containerMAC: [UInt8]?) throws -> VethPair {
        if (try? container.link(named: ifname)) != nil {
            throw CNIError(.internalError, "container veth name (\"\(ifname)\") already exists in \(namespace.path)")
        }
        for _ in 0..<10 {
            let name = randomVethName()
            let spec = LinkSpec(name: name, kind: .veth(peer: VethPeer(name: ifname, mtu: mtu, hardwareAddress: containerMAC,
                                                                           namespaceFD: namespace.descriptor)), mtu: mtu)
            switch Result(catching: { () throws(NetlinkError) in try host.addLink(spec) }) {
            case .success: break
            case .failure(let error):
                guard error.errno == .fileExists else { throw error }
                if (try? host.link(named: name)) != nil { continue }
                throw CNIError(.internalError, "container veth name (\"\(ifname)\") peer provided (\"\(name)\") already exists")
            }
            let hostLink = try host.link(named: name)
            do {
                try host.setLink(index: hostLink.index, up: true)
                // We own the routes of this interface.
                try? Sysctl.write("net/ipv6/conf/\(name)/accept_ra", "0")
                return VethPair(host: try host.link(index: hostLink.index), container: try container.link(named: ifname))
            } catch {
                try? host.deleteLink(index: hostLink.index)
                throw error
            }
        }
        throw CNIError(.internalError, "failed to find a unique veth name")
    }

    /// Parses `aa:bb:cc:dd:ee:ff`.
    public static func parseMAC(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard part.count == 2, let byte = UInt8(part, radix: 16) else { return nil }
            out.append(byte)
        }
        return out
    }
}

extension ContainerNetwork {
    /// DEL's removal of the container interface: deletes `ifname` in the netns (which takes
    /// the host end of a veth with it). A netns or link that is already gone is success.
    public static func deleteContainerInterface(netns: String, ifname: String) throws {
        guard !netns.isEmpty else { return }
        do {
            let container = try routeSocket(netns: netns)
            if let link = try? container.link(named: ifname) { try container.deleteLink(index: link.index) }
        } catch where isMissingNamespace(error) {
            // Gone with its netns: the kernel destroyed the veth pair too.
        }
    }

    /// Deletes the host-side veths that `previous` lists (interfaces without a sandbox), for a
    /// DEL that cannot reach them through the netns. `keep` names interfaces to leave alone.
    public static func deleteHostVeths(of previous: CNIResult?, keep: Set<String> = []) {
        guard let previous, let host = try? RouteNetlink() else { return }
        for interface in previous.interfaces where interface.sandbox.isEmpty && !keep.contains(interface.name) {
            if let link = try? host.link(named: interface.name), link.kind == "veth" { try? host.deleteLink(index: link.index) }
        }
    }
}
