import CNISkeleton
import Netlink

/// ADD, DEL and CHECK of a plugin whose container interface is a child of a master
/// (macvlan, ipvlan). The plugin supplies its decoded config.
public struct ChildLinkFlow {
    public let request: CNIRequest
    public let child: ChildLinkRequest
    public let ipamType: String
    /// ipvlan's chained mode: without IPAM, take the addresses from prevResult.
    public let usePrevResultAddresses: Bool
    public let dns: CNIResult.DNS?
    public let kernel: KernelContext

    public init(
        request: CNIRequest, child: ChildLinkRequest, ipamType: String, usePrevResultAddresses: Bool = false,
        dns: CNIResult.DNS?, kernel: KernelContext = .live
    ) {
        self.kernel = kernel
        self.request = request
        self.child = child
        self.ipamType = ipamType
        self.usePrevResultAddresses = usePrevResultAddresses
        self.dns = dns
    }

    public func add() throws -> CNIResult {
        let rollback = Rollback()
        defer { rollback.unwindIfNeeded(log: { ProcessEnvironment().writeStderr("\(request.config.type): \($0)\n") }) }
        let host = try kernel.hostRoute()
        let namespace = try kernel.container(request.netns)
        let container = namespace.route
        let master = try ContainerNetwork.master(child.master, in: child.linkInContainer ? container : host)
        if let mtu = child.mtu, mtu > master.mtu {
            throw CNIError(
                .invalidNetworkConfig, "invalid MTU \(mtu), must be [0, master MTU(\(master.mtu))]", details: "key: mtu"
            )
        }
        let link = try ContainerNetwork.createChild(
            child, master: master, tag: AttachmentTag(request), host: host, in: namespace)
        rollback.add("link \(request.ifname)") { try? container.deleteLink(index: link.index) }
        var result = CNIResult(
            cniVersion: request.config.cniVersion,
            interfaces: [.init(name: link.name, mac: link.hardwareAddress.description, sandbox: request.netns)])
        if !ipamType.isEmpty {
            let ipam = try IPAMDelegation.add(request, type: ipamType, rollback: rollback, ipam: kernel.ipam)
            result.ips = ipam.ips
            result.routes = ipam.routes
            result.dns = ipam.dns
        } else if usePrevResultAddresses, let previous = try request.config.prevResult(), !previous.ips.isEmpty {
            result.ips = previous.ips
            result.routes = previous.routes
            result.dns = previous.dns
        }
        if result.ips.isEmpty {
            try container.setLink(index: link.index, up: true)
        } else {
            for i in result.ips.indices { result.ips[i].interface = 0 }
            try ContainerNetwork.configureChild(result, ifname: request.ifname, container: namespace)
        }
        if let dns { result.dns = dns }
        result.interfaces[0].mac = try container.link(index: link.index).hardwareAddress.description
        rollback.commit()
        return result
    }

    /// The link must be a `kind` child with prevResult's MAC, carrying prevResult's addresses and routes.
    public func check(kind: String) throws {
        if !ipamType.isEmpty { try kernel.ipam.run(ipamType, .check, request) }
        let previous = try request.config.requiredPrevResult()
        guard let entry = previous.interfaces.first(where: { $0.name == request.ifname }),
            entry.sandbox == request.netns
        else {
            throw CNIError(.internalError, "Sandbox in prevResult doesn't match configured netns: \(request.netns)")
        }
        let container = try kernel.containerRoute(request.netns)
        guard let link = try? container.link(named: request.ifname), link.kind == kind else {
            throw CNIError(.internalError, "Container interface \(request.ifname) is missing or not of type \(kind)")
        }
        if !entry.mac.isEmpty, entry.mac != link.hardwareAddress.description {
            throw CNIError(
                .internalError,
                "Interface \(request.ifname) MAC \(link.hardwareAddress.description) doesn't match \(entry.mac)")
        }
        try ContainerCheck.addressesAndRoutes(previous, ifname: request.ifname, link: link, route: container)
    }
}

/// A plugin whose container interface is a child link: it decodes its config into a
/// `ChildLinkFlow`; ADD, DEL and CHECK run the flow, GC and STATUS go to its IPAM plugin.
public protocol ChildLinkPlugin: CNIPlugin {
    /// Where the flows reach the kernel and IPAM (`.live` outside tests).
    var kernel: KernelContext { get }
    func flow(_ request: CNIRequest) throws -> ChildLinkFlow
}

extension ChildLinkPlugin {
    public func add(_ request: CNIRequest) throws -> CNIResult { try flow(request).add() }
    /// IPAM DEL when set, then the link; a missing netns or link is fine. Lenient: only the
    /// IPAM type and the container interface matter, so a config that an ADD accepted (a bad
    /// `mtu` or `mode` here is harmless) is always deletable.
    public func del(_ request: CNIRequest) throws {
        try IPAMDelegation.del(request, ipam: kernel.ipam)
        try ContainerNetwork.deleteContainerInterface(
            netns: request.netns, ifname: request.ifname,
            leftovers: [ContainerNetwork.temporaryName(AttachmentTag(request))], kernel: kernel)
    }
    public func check(_ request: CNIRequest) throws { try flow(request).check(kind: type) }

    public func status(_ request: CNIRequest) throws {
        try IPAMDelegation.pass(.status, request, ipam: kernel.ipam)
    }

    public func gc(_ request: CNIRequest) throws {
        try IPAMDelegation.pass(.gc, request, ipam: kernel.ipam)
    }
}
