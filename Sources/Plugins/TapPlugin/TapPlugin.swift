import CNISkeleton
import Netlink
import PluginSupport

/// The `tap` plugin: a persistent TAP device named `CNI_IFNAME` inside the container, for a VM
/// (Kata, KubeVirt) to open, optionally a port of a bridge in the container, with IPAM.
///
/// The device is made through `/dev/net/tun` ioctls. The reference shells out to
/// `ip tuntap` for owner, group and SELinux; we never run a binary, so owner and group go
/// through the ioctls and `selinuxContext` is refused (it would need an exec under that label).
public struct TapPlugin: CNIPlugin {
    /// The plugin instance the executables run.
    public static let plugin = TapPlugin()

    public let type = "tap"

    public init() {}

    struct Config {
        var multiQueue = false
        var mtu: UInt32?
        var mac: MACAddress?
        var owner: UInt32?
        var group: UInt32?
        var bridge: String?
        var ipamType = ""

        init(_ request: CNIRequest) throws(CNIError) {
            let f = request.config.fields
            var macText: String?
            do {
                multiQueue = try f.bool("multiQueue") ?? false
                if let value = try f.int("mtu"), value != 0 {
                    guard (68...65535).contains(value) else {
                        throw CNIError.invalidConfig(
                            "invalid mtu \(value): must be between 68 and 65535", details: "key: mtu")
                    }
                    mtu = UInt32(value)
                }
                owner = try Config.id(f.int("owner"), key: "owner")
                group = try Config.id(f.int("group"), key: "group")
                bridge = try f.string("bridge").flatMap { $0.isEmpty ? nil : $0 }
                if let context = try f.string("selinuxContext"), !context.isEmpty {
                    throw CNIError.invalidConfig(
                        "selinuxContext is not supported: swift-cni runs no program to create the device under that label",
                        details: "key: selinuxContext")
                }
                macText = try f.string("mac").flatMap { $0.isEmpty ? nil : $0 }
                if let value = try request.args.value("MAC", known: ["MAC"]), !value.isEmpty { macText = value }
                if let value = try request.config.runtimeConfig()?.string("mac"), !value.isEmpty { macText = value }
            } catch {
                throw CNIError.decodingConfig(error)
            }
            if let macText {
                guard let parsed = MACAddress(macText) else {
                    throw .invalidConfig("invalid MAC address \"\(macText)\"", details: "key: mac")
                }
                mac = parsed
            }
            ipamType = try request.config.ipamType()
        }

        static func id(_ value: Int?, key: String) throws(CNIError) -> UInt32? {
            guard let value else { return nil }
            guard let id = UInt32(exactly: value) else {
                throw .invalidConfig("invalid \(key) \(value): must be a user or group ID", details: "key: \(key)")
            }
            return id
        }
    }

    public func add(_ request: CNIRequest) throws -> CNIResult {
        let conf = try Config(request)
        let rollback = Rollback()
        defer { rollback.unwindIfNeeded(log: { ProcessEnvironment().writeStderr("tap: \($0)\n") }) }
        let namespace = try NetworkNamespace(path: request.netns)
        let netns = try ContainerNamespace(entering: namespace)
        let container = netns.route
        if (try? container.link(named: request.ifname)) != nil {
            throw CNIError(
                .internalError, "container interface name \"\(request.ifname)\" already exists in \(request.netns)")
        }
        try namespace.withEntered {
            try TapDevice.create(
                name: request.ifname, multiQueue: conf.multiQueue, owner: conf.owner, group: conf.group)
        }
        let link = try container.link(named: request.ifname)
        rollback.add("tap \(request.ifname)") { try? container.deleteLink(index: link.index) }
        if let mtu = conf.mtu { try container.setLink(index: link.index, .mtu(mtu)) }
        if let mac = conf.mac { try container.setLink(index: link.index, .hardwareAddress(mac)) }
        if let name = conf.bridge {
            guard let bridge = try? container.link(named: name), bridge.kind == "bridge" else {
                throw CNIError(
                    .invalidNetworkConfig, "bridge \"\(name)\" not found in the container", details: "key: bridge")
            }
            try container.setLink(index: link.index, .master(bridge.index))
        }
        try container.setLink(index: link.index, .up(true))
        var result = CNIResult(cniVersion: request.config.cniVersion)
        result.interfaces = [.init(name: request.ifname, mac: "", sandbox: request.netns)]
        if !conf.ipamType.isEmpty {
            try IPAMDelegation.add(request, type: conf.ipamType, rollback: rollback, into: &result)
            try ContainerNetwork.configureChild(result, ifname: request.ifname, container: netns)
        }
        result.interfaces[0].mac = try container.link(index: link.index).hardwareAddress.description
        rollback.commit()
        return result
    }

    /// IPAM DEL, then the device; a missing netns or device is fine.
    public func del(_ request: CNIRequest) throws {
        try IPAMDelegation.del(request)
        try ContainerNetwork.deleteContainerInterface(netns: request.netns, ifname: request.ifname)
    }

    public func check(_ request: CNIRequest) throws {
        let conf = try Config(request)
        if !conf.ipamType.isEmpty { try Delegate.run(conf.ipamType, command: .check, request: request) }
        let previous = try request.config.requiredPrevResult()
        let container = try ContainerNetwork.routeSocket(netns: request.netns)
        guard let link = try? container.link(named: request.ifname), link.kind == "tun" else {
            throw CNIError(.internalError, "Container interface \(request.ifname) is missing or not a tap device")
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
