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

    /// The host-side name this suite gives the veth of one attachment: `veth` plus 8 hex
    /// digits, like the reference's random names, but derived from the attachment so that a
    /// DEL without the netns can tell its own host veth from anyone else's.
    public static func vethName(_ tag: AttachmentTag) -> String {
        "veth" + SHA512.hexPrefix(tag.network + "/" + tag.containerID + "/" + tag.ifname, length: 8)
    }

    /// Creates a veth pair whose container end is `ifname` inside `namespace` and whose host
    /// end is named ``vethName(_:)`` (or, when that name is taken, a fresh random
    /// `veth<8hex>`, retrying clashes up to 10 times). The host end is brought up with
    /// `accept_ra=0`, as the reference does, and joins `master` (a bridge) when given. Both are
    /// part of the creating request: the same end state as separate requests, two round trips
    /// fewer.
    ///
    /// Fails when the container already has `ifname` (the spec requires that ADD fails then),
    /// and then creates nothing.
    public static func createVeth(
        host: RouteNetlink, in namespace: ContainerNamespace, tag: AttachmentTag, mtu: UInt32?,
        containerMAC: MACAddress?, master: Int32? = nil, hostSysctl: any SysctlScope = HostSysctls()
    ) throws -> VethPair {
        let container = namespace.route
        let ifname = tag.ifname
        // No look in the container first: the kernel refuses a peer name that is taken there
        // (EEXIST, checked below), and the container's socket is not needed before the veth
        // exists, so its thread can still be starting.
        for attempt in 0..<11 {
            let name = attempt == 0 ? vethName(tag) : randomVethName()
            var spec = LinkSpec(
                name: name,
                kind: .veth(
                    peer: VethPeer(
                        name: ifname, mtu: mtu, hardwareAddress: containerMAC,
                        namespaceFD: namespace.descriptor)), mtu: mtu)
            (spec.master, spec.up) = (master, true)
            switch Result(catching: { () throws(NetlinkError) in try host.addLink(spec) }) {
            case .success: break
            case .failure(let error):
                guard error.errno == .fileExists else { throw error }
                // Which name is taken is asked of the container, whose socket must exist first.
                try namespace.ready()
                if (try? container.link(named: ifname)) != nil {
                    throw CNIError(
                        .internalError, "container veth name (\"\(ifname)\") already exists in \(namespace.path)")
                }
                if (try? host.link(named: name)) != nil { continue }
                throw CNIError(
                    .internalError, "container veth name (\"\(ifname)\") peer provided (\"\(name)\") already exists")
            }
            let hostLink: Link
            do { hostLink = try host.link(named: name) } catch {
                // Created a moment ago under a name only this attachment uses: never left behind.
                try? host.deleteLink(named: name)
                throw error
            }
            do {
                // We own the routes of this interface.
                try? hostSysctl.access { try $0.write("net/ipv6/conf/\(name)/accept_ra", "0") }
                // Name, index and MAC are all a caller uses, and going up changes none of them.
                return VethPair(host: hostLink, container: try container.link(named: ifname))
            } catch {
                try? host.deleteLink(index: hostLink.index)
                throw error
            }
        }
        throw CNIError(.internalError, "failed to find a unique veth name")
    }
}

extension ContainerNetwork {
    /// DEL's removal of the container interface: deletes `ifname` in the netns (which takes
    /// the host end of a veth with it). A netns or link that is already gone is success.
    /// Returns whether a link was deleted here.
    ///
    /// `leftovers` are names only this attachment's ADD uses (a child link's temporary name),
    /// deleted too when an ADD killed part-way left one.
    @discardableResult
    public static func deleteContainerInterface(
        netns: String, ifname: String, leftovers: [String] = [], kernel: KernelContext = .live
    ) throws -> Bool {
        guard !netns.isEmpty else { return false }
        return try deleteContainerInterface(
            in: Result { try kernel.container(netns) }, ifname: ifname, leftovers: leftovers)
    }

    /// The same, in a namespace the caller opened earlier (``KernelContext/container(_:needs:)``),
    /// so that its thread ran while the caller did other work (IPAM's DEL, say).
    @discardableResult
    public static func deleteContainerInterface(
        in opened: Result<ContainerNamespace, any Error>, ifname: String, leftovers: [String] = []
    ) throws -> Bool {
        do {
            let namespace = try opened.get()
            try namespace.ready()
            let container = namespace.route
            deleteLinks(named: leftovers, container)
            guard let link = try? container.link(named: ifname) else { return false }
            do { try container.deleteLink(index: link.index) } catch  where error.kind == .notFound {
                // A concurrent DEL of the same attachment got there first.
                return false
            }
            return true
        } catch  where isMissingNamespace(error) {
            // Gone with its netns: the kernel destroyed the veth pair too.
            return false
        }
    }

    /// Deletes each of `names` that exists; best effort.
    private static func deleteLinks(named names: [String], _ route: RouteNetlink) {
        for name in names {
            guard let link = try? route.link(named: name) else { continue }
            try? route.deleteLink(index: link.index)
        }
    }

    /// Deletes the host end of this attachment's veth when DEL cannot reach it through the
    /// netns: only a veth that `previous` lists without a sandbox, whose name is the one
    /// ``vethName(_:)`` derives for `tag`, and that `owned` confirms (a port of the network's
    /// bridge, or carrying the attachment's route). Anything else is not ours to delete.
    /// No socket is opened unless prevResult names such a veth.
    public static func deleteHostVeth(
        of previous: CNIResult?, tag: AttachmentTag, kernel: KernelContext = .live, owned: (RouteNetlink, Link) -> Bool
    ) {
        let name = vethName(tag)
        guard let previous, previous.interfaces.contains(where: { $0.name == name && $0.sandbox.isEmpty }) else {
            return
        }
        guard let host = try? kernel.hostRoute(), let link = try? host.link(named: name), link.kind == "veth",
            owned(host, link)
        else {
            return
        }
        try? host.deleteLink(index: link.index)
    }
}
