import CNISkeleton
import Netlink

/// What macvlan and ipvlan share: a child of a master interface, created straight into the
/// container netns under a temporary name and renamed there (the reference's way around
/// name clashes in the host), then configured from IPAM like any container interface.
public struct ChildLinkRequest {
    public var kind: (_ parent: Int32) -> LinkSpec.Kind
    public var master: String?
    public var linkInContainer: Bool
    public var mtu: UInt32?
    public var mac: MACAddress?
    public var broadcastQueueLength: UInt32?

    public init(
        kind: @escaping (_ parent: Int32) -> LinkSpec.Kind, master: String?, linkInContainer: Bool, mtu: UInt32?,
        mac: MACAddress?, broadcastQueueLength: UInt32? = nil
    ) {
        self.kind = kind
        self.master = master
        self.linkInContainer = linkInContainer
        self.mtu = mtu
        self.mac = mac
        self.broadcastQueueLength = broadcastQueueLength
    }
}

extension ContainerNetwork {
    /// The interface of the first default route, as the reference picks a master.
    public static func defaultRouteInterface(_ route: RouteNetlink) throws -> Link {
        let routes = try route.routes(family: .inet)
        guard
            let index = routes.first(where: {
                $0.destination.prefixLength == 0 && $0.table == mainRoutingTable && $0.outputIndex != nil
            })?.outputIndex,
            let link = try? route.link(index: index)
        else {
            throw CNIError(.invalidNetworkConfig, "no default route interface found", details: "key: master")
        }
        return link
    }

    /// The master link: the configured name, or the default route's interface.
    public static func master(_ name: String?, in route: RouteNetlink) throws -> Link {
        guard let name, !name.isEmpty else { return try defaultRouteInterface(route) }
        guard let link = try? route.link(named: name) else {
            throw CNIError(
                .invalidNetworkConfig, "failed to lookup master \"\(name)\": link not found", details: "key: master")
        }
        return link
    }

    /// The name a child link is made under before it is renamed to `ifname` in the pod:
    /// derived from the attachment (the reference picks a random one), so that the DEL after
    /// an ADD killed between the two steps finds it.
    public static func temporaryName(_ tag: AttachmentTag) -> String {
        "veth" + SHA512.hexPrefix("child/" + tag.network + "/" + tag.containerID + "/" + tag.ifname, length: 8)
    }

    /// Creates the child link as `tag.ifname` in the container. Fails when that name exists there.
    public static func createChild(
        _ request: ChildLinkRequest, master: Link, tag: AttachmentTag, host: RouteNetlink,
        in namespace: ContainerNamespace
    ) throws -> Link {
        let container = namespace.route
        let ifname = tag.ifname
        if (try? container.link(named: ifname)) != nil {
            throw CNIError(.internalError, "container interface name \"\(ifname)\" already exists in \(namespace.path)")
        }
        let temporary = temporaryName(tag)
        // Only this attachment's ADD uses the name: one that exists was left by a killed ADD.
        if let leftover = try? container.link(named: temporary) { try? container.deleteLink(index: leftover.index) }
        var spec = LinkSpec(
            name: temporary, kind: request.kind(master.index), mtu: request.mtu, hardwareAddress: request.mac,
            namespaceFD: request.linkInContainer ? nil : namespace.descriptor)
        spec.macvlanBroadcastQueueLength = request.broadcastQueueLength
        let creator = request.linkInContainer ? container : host
        if case .failure(let error) = Result(catching: { () throws(NetlinkError) in try creator.addLink(spec) }) {
            // A kind this kernel lacks (ipvlan here) says so plainly.
            throw error.kind == .unsupported ? CNIError(.internalError, error.description) : error
        }
        let created = try container.link(named: temporary)
        do {
            try container.setLink(index: created.index, .name(ifname))
            return try container.link(index: created.index)
        } catch {
            try? container.deleteLink(index: created.index)
            throw error
        }
    }

    /// Addresses and routes from an IPAM result on the container interface, with the
    /// notify sysctls macvlan and ipvlan set (gratuitous ARP / unsolicited NA on changes).
    public static func configureChild(
        _ result: CNIResult, ifname: String, container: ContainerNamespace
    ) throws {
        try container.sysctl.access { values in
            try? values.write("net/ipv4/conf/\(ifname)/arp_notify", "1")
            try? values.write("net/ipv6/conf/\(ifname)/ndisc_notify", "1")
        }
        try configureInterface(result, ifname: ifname, container: container)
    }
}
