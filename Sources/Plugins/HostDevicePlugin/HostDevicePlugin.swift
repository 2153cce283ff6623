import CNISkeleton
import Netlink
import PluginSupport

/// The `host-device` plugin: moves an existing host network device into the container under
/// `CNI_IFNAME`, keeping its original name in the device's alias so DEL can give it back.
///
/// Unlike the reference, which renames through a temporary namespace, the device is renamed
/// inside the container netns (where no udev or NetworkManager races the rename), and DEL
/// releases the IPAM reservation even when the netns is gone (the reference leaks it).
public struct HostDevicePlugin: CNIPlugin {
    /// The plugin instance the executables run.
    public static let plugin = HostDevicePlugin()

    public let type = "host-device"

    public init() {}

    public func add(_ request: CNIRequest) throws -> CNIResult {
        let conf = try HostDeviceConfig(request)
        let rollback = Rollback()
        defer { rollback.unwindIfNeeded(log: { ProcessEnvironment().writeStderr("host-device: \($0)\n") }) }
        var result = CNIResult(cniVersion: request.config.cniVersion)
        if conf.dpdk {
            // A DPDK-bound device has no netdev: the addresses are for the application to use.
            if !conf.ipamType.isEmpty { result = try addressesOnly(request, conf, rollback) }
            rollback.commit()
            return result
        }
        let host = try RouteNetlink()
        let namespace = try NetworkNamespace(path: request.netns)
        let netns = try ContainerNamespace(entering: namespace)
        let container = netns.route
        let device = try find(conf.selector, host)
        let link = try moveIn(
            device, ifname: request.ifname, host: host, container: container, namespace: namespace,
            rollback: rollback)
        result.interfaces = [.init(name: link.name, mac: link.hardwareAddress.description, sandbox: request.netns)]
        if !conf.ipamType.isEmpty {
            try IPAMDelegation.add(request, type: conf.ipamType, rollback: rollback, into: &result)
            try ContainerNetwork.configureChild(result, ifname: request.ifname, container: netns)
        }
        rollback.commit()
        return result
    }

    private func addressesOnly(_ request: CNIRequest, _ conf: HostDeviceConfig, _ rollback: Rollback) throws
        -> CNIResult
    {
        var result = try IPAMDelegation.add(request, type: conf.ipamType, rollback: rollback)
        result.cniVersion = request.config.cniVersion
        return result
    }

    /// The host device the selector names.
    private func find(_ selector: HostDeviceConfig.Selector, _ host: RouteNetlink) throws -> Link {
        switch selector {
        case .name(let name):
            guard let link = try? host.link(named: name) else {
                throw CNIError(
                    .internalError, "failed to find host device: link \"\(name)\" not found", details: "key: device")
            }
            return link
        case .mac(let mac):
            guard let link = try host.links().first(where: { $0.hardwareAddress.description == mac }) else {
                throw CNIError(
                    .internalError, "failed to find host device: no device with MAC \(mac)", details: "key: hwaddr")
            }
            return link
        case .sysfs(let path):
            guard let name = HostDeviceConfig.interfaces(of: path).first, let link = try? host.link(named: name) else {
                throw CNIError(.internalError, "failed to find host device: no network interface under \(path)")
            }
            return link
        }
    }

    /// Moves `device` into the container, renames it there to `ifname` with its host name as
    /// alias, and brings it up; each step is undone on a later failure, newest first.
    private func moveIn(
        _ device: Link, ifname: String, host: RouteNetlink, container: RouteNetlink, namespace: NetworkNamespace,
        rollback: Rollback
    ) throws -> Link {
        if (try? container.link(named: ifname)) != nil {
            throw CNIError(.internalError, "container interface name \"\(ifname)\" already exists in \(namespace.path)")
        }
        let hostNamespace = try NetworkNamespace.current()
        // The alias first, on the host: from here on a DEL after any kill can find the device
        // and its name (the alias equal to the device's own name marks one moved, not renamed).
        try host.setLink(index: device.index, .alias(device.name))
        rollback.add("alias of \(device.name)") { try? host.setLink(index: device.index, .alias("")) }
        // Moving a device to another namespace brings it down, so it can be renamed there.
        try host.setLink(index: device.index, .namespace(fd: namespace.descriptor))
        let moved = try container.link(named: device.name)
        rollback.add("device \(device.name) in the container") {
            try Self.moveBack(
                try container.link(index: moved.index), original: device.name, ifname: nil, container,
                hostNamespace)
        }
        try container.setLink(index: moved.index, .name(ifname))
        try container.setLink(index: moved.index, .up(true))
        return try container.link(index: moved.index)
    }

    /// IPAM DEL (also when the netns is gone: the reference leaks the reservation then), then
    /// the device back to the host under its original name, left down.
    public func del(_ request: CNIRequest) throws {
        try IPAMDelegation.del(request)
        guard !request.netns.isEmpty else { return }
        let container: RouteNetlink
        let hostNamespace = try NetworkNamespace.current()
        do { container = try ContainerNetwork.routeSocket(netns: request.netns) } catch
            where
            ContainerNetwork.isMissingNamespace(error)
        {
            return
        }
        if let link = try? container.link(named: request.ifname) {
            guard let original = link.alias else {
                throw CNIError(
                    .internalError, "failed to find original ifname for \"\(request.ifname)\" (alias is not set)")
            }
            try Self.moveBack(link, original: original, ifname: request.ifname, container, hostNamespace)
            return
        }
        // An ADD killed between the move and the rename left the device under its own name,
        // with that name as alias.
        for link in try container.links() where link.alias == link.name && link.kind != "bridge" {
            try Self.moveBack(link, original: link.name, ifname: nil, container, hostNamespace)
        }
    }

    /// Puts a device back on the host under `original`, down, its alias cleared. When the move
    /// fails (the name is taken on the host) the device gets `ifname` back, alias kept, so a
    /// later DEL can try again.
    static func moveBack(
        _ link: Link, original: String, ifname: String?, _ container: RouteNetlink, _ host: NetworkNamespace
    ) throws {
        try? container.setLink(index: link.index, .up(false))
        if link.name != original { try container.setLink(index: link.index, .name(original)) }
        do {
            try container.setLink(index: link.index, .namespace(fd: host.descriptor))
        } catch {
            if let ifname { try? container.setLink(index: link.index, .name(ifname)) }
            throw CNIError(.internalError, "failed to return \(original) to the host: \(error)")
        }
        let route = try RouteNetlink()
        if let back = try? route.link(named: original) { try? route.setLink(index: back.index, .alias("")) }
    }

    public func check(_ request: CNIRequest) throws {
        let conf = try HostDeviceConfig(request)
        if !conf.ipamType.isEmpty { try Delegate.run(conf.ipamType, command: .check, request: request) }
        let previous = try request.config.requiredPrevResult()
        if conf.dpdk { return }
        let container = try ContainerNetwork.routeSocket(netns: request.netns)
        guard let link = try? container.link(named: request.ifname) else {
            throw CNIError(.internalError, "failed to find \"\(request.ifname)\" in the container")
        }
        if let entry = previous.interfaces.first(where: { $0.name == request.ifname }), !entry.mac.isEmpty,
            entry.mac != link.hardwareAddress.description
        {
            throw CNIError(
                .internalError,
                "Interface \(request.ifname) MAC \(link.hardwareAddress.description) doesn't match \(entry.mac)")
        }
        try ContainerCheck.addressesAndRoutes(previous, ifname: request.ifname, link: link, route: container)
    }

    public func gc(_ request: CNIRequest) throws {
        try IPAMDelegation.pass(.gc, request)
    }

    public func status(_ request: CNIRequest) throws {
        try IPAMDelegation.pass(.status, request)
    }
}
