import CNISkeleton
import Netlink
import PluginSupport

/// The `dummy` plugin: a dummy link named `CNI_IFNAME` inside the container, with the
/// addresses IPAM gives it (required, as in the reference). On a kernel without the dummy
/// driver, ADD fails with an error naming the missing support.
public struct DummyPlugin: CNIPlugin {
    /// The plugin instance the executables run.
    public static let plugin = DummyPlugin()

    public let type = "dummy"

    public let kernel: KernelContext

    /// `kernel` is `.live` outside tests.
    public init(kernel: KernelContext = .live) { self.kernel = kernel }

    static func ipamType(_ request: CNIRequest) throws(CNIError) -> String {
        let type = try request.config.ipamType()
        guard !type.isEmpty else {
            throw .invalidConfig("dummy interface requires an IPAM configuration", details: "key: ipam")
        }
        return type
    }

    public func add(_ request: CNIRequest) throws -> CNIResult {
        let ipamType = try Self.ipamType(request)
        let rollback = Rollback()
        defer { rollback.unwindIfNeeded(log: { ProcessEnvironment().writeStderr("dummy: \($0)\n") }) }
        let namespace = try kernel.container(request.netns)
        let container = namespace.route
        if (try? container.link(named: request.ifname)) != nil {
            throw CNIError(
                .internalError, "container interface name \"\(request.ifname)\" already exists in \(request.netns)")
        }
        switch Result(catching: { () throws(NetlinkError) in
            try container.addLink(LinkSpec(name: request.ifname, kind: .dummy))
        }) {
        case .success: break
        case .failure(let error):
            throw error.kind == .unsupported ? CNIError(.internalError, error.description) : error
        }
        let link = try container.link(named: request.ifname)
        rollback.add("dummy \(request.ifname)") { try? container.deleteLink(index: link.index) }
        var result = CNIResult(
            cniVersion: request.config.cniVersion,
            interfaces: [.init(name: request.ifname, mac: link.hardwareAddress.description, sandbox: request.netns)])
        try IPAMDelegation.add(request, type: ipamType, rollback: rollback, into: &result, ipam: kernel.ipam)
        try ContainerNetwork.configureChild(result, ifname: request.ifname, container: namespace)
        rollback.commit()
        return result
    }

    /// IPAM DEL, then the link; a missing netns or link is fine.
    public func del(_ request: CNIRequest) throws {
        try IPAMDelegation.del(request, ipam: kernel.ipam)
        try ContainerNetwork.deleteContainerInterface(netns: request.netns, ifname: request.ifname, kernel: kernel)
    }

    public func check(_ request: CNIRequest) throws {
        let ipamType = try Self.ipamType(request)
        try kernel.ipam.run(ipamType, .check, request)
        let previous = try request.config.requiredPrevResult()
        let container = try kernel.containerRoute(request.netns)
        guard let link = try? container.link(named: request.ifname), link.kind == "dummy" else {
            throw CNIError(.internalError, "Container interface \(request.ifname) is missing or not a dummy")
        }
        try ContainerCheck.addressesAndRoutes(previous, ifname: request.ifname, link: link, route: container)
    }

    public func gc(_ request: CNIRequest) throws {
        try kernel.ipam.run(Self.ipamType(request), .gc, request)
    }

    public func status(_ request: CNIRequest) throws {
        try kernel.ipam.run(Self.ipamType(request), .status, request)
    }
}
