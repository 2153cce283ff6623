import CNISkeleton
import Netlink
import PluginSupport

/// The `ptp` plugin: a routed veth pair. The container keeps its IPAM address, but every
/// destination (its own subnet included) is reached through the gateway, which lives as a
/// /32 (/128) on the host end.
public struct PtpPlugin: CNIPlugin {
    /// The plugin instance the executables run.
    public static let plugin = PtpPlugin()

    public let type = "ptp"

    public let kernel: KernelContext

    /// `kernel` is `.live` outside tests.
    public init(kernel: KernelContext = .live) { self.kernel = kernel }

    struct Config {
        var ipMasq = false
        var nonMasqueradeCIDRs: [IPPrefix] = []
        var mtu: UInt32?
        var ipamType = ""
        var dns: CNIResult.DNS?

        init(_ request: CNIRequest) throws(CNIError) {
            let f = request.config.fields
            do {
                ipMasq = try f.bool("ipMasq") ?? false
                if let value = try f.int("mtu"), value != 0 {
                    guard (68...65535).contains(value) else {
                        throw CNIError.invalidConfig("invalid mtu \(value): must be between 68 and 65535")
                    }
                    mtu = UInt32(value)
                }
                if let backend = try f.string("ipMasqBackend"), !["", "iptables", "nftables"].contains(backend) {
                    throw CNIError.invalidConfig("unknown ipmasq backend \"\(backend)\"", details: "key: ipMasqBackend")
                }
                if let d = try f.object("dns", typeName: "DNS") {
                    let parsed = try CNIResult.decodeDNS(d)
                    if !parsed.isEmpty { dns = parsed }
                }
            } catch {
                throw CNIError.decodingConfig(error)
            }
            ipamType = try request.config.ipamType()
            nonMasqueradeCIDRs = try Masquerade.exemptions(request.config)
        }
    }

    public func add(_ request: CNIRequest) throws -> CNIResult {
        let rollback = Rollback()
        defer { rollback.unwindIfNeeded(log: { ProcessEnvironment().writeStderr("ptp: \($0)\n") }) }
        let conf = try Config(request)
        let host = try kernel.hostRoute()
        let namespace = try kernel.container(request.netns)
        let container = namespace.route
        var result = try IPAMDelegation.add(request, type: conf.ipamType, rollback: rollback, ipam: kernel.ipam)
        result.cniVersion = request.config.cniVersion
        for ip in result.ips where ip.gateway == nil {
            throw CNIError(.internalError, "ptp needs IPAM to return a gateway for \(ip.address)")
        }
        try Forwarding.enable(
            v4: result.ips.contains { $0.address.address.isV4 }, v6: result.ips.contains { !$0.address.address.isV4 },
            sysctl: kernel.hostSysctl, route: host)

        let veth = try ContainerNetwork.createVeth(
            host: host, in: namespace, tag: AttachmentTag(request), mtu: conf.mtu, containerMAC: nil,
            hostSysctl: kernel.hostSysctl)
        rollback.add("veth \(veth.host.name)") { try? host.deleteLink(index: veth.host.index) }
        result.interfaces = [
            .init(name: veth.host.name, mac: veth.host.hardwareAddress.description),
            .init(name: veth.container.name, mac: veth.container.hardwareAddress.description, sandbox: request.netns),
        ]
        for i in result.ips.indices { result.ips[i].interface = 1 }
        try ContainerNetwork.configureInterface(result, ifname: request.ifname, container: namespace)
        try routeThroughGateway(result, container: container, index: veth.container.index)
        try configureHost(result, host: host, index: veth.host.index)
        if conf.ipMasq {
            try Masquerade.setup(
                result.ips.map(\.address), network: request.config.name, ifname: request.ifname,
                containerID: request.containerID, exempt: conf.nonMasqueradeCIDRs, kernel: kernel)
            rollback.add("masquerade rules") {
                try Masquerade.teardown(
                    network: request.config.name, ifname: request.ifname, containerID: request.containerID,
                    addresses: result.ips.map(\.address.address), kernel: kernel)
            }
        }
        if let dns = conf.dns { result.dns = dns }
        rollback.commit()
        return result
    }

    /// Replaces the kernel's subnet route by a link route to the gateway and a subnet route via it.
    private func routeThroughGateway(_ result: CNIResult, container: RouteNetlink, index: Int32) throws {
        for ip in result.ips {
            guard let gateway = ip.gateway else { continue }
            let subnet = ip.address.masked
            try? container.deleteRoute(RouteSpec(destination: subnet, outputIndex: index, scope: .nowhere))
            try container.addRoute(
                RouteSpec(
                    destination: gateway.hostPrefix, preferredSource: ip.address.address, outputIndex: index,
                    scope: .link))
            try container.addRoute(
                RouteSpec(
                    destination: subnet, gateway: gateway, preferredSource: ip.address.address, outputIndex: index))
        }
    }

    /// The gateway as /32 (/128) on the host end and a host route to the container address.
    private func configureHost(_ result: CNIResult, host: RouteNetlink, index: Int32) throws {
        for ip in result.ips {
            guard let gateway = ip.gateway else { continue }
            do {
                try host.addAddress(
                    AddressSpec(index: index, address: gateway.hostPrefix, flags: gateway.isV4 ? [] : [.noDAD]))
            } catch {
                throw CNIError(.internalError, "failed to add IP addr \(gateway.hostPrefix) to veth: \(error)")
            }
            do {
                try host.addRoute(
                    RouteSpec(destination: ip.address.address.hostPrefix, outputIndex: index, scope: .host))
            } catch  where error.errno == .fileExists {
                continue
            } catch {
                throw CNIError(.internalError, "failed to add route on host: \(error)")
            }
        }
    }

    /// IPAM DEL first, as the reference; then the container link; masquerade rules always.
    /// Reads only `ipMasq` and the IPAM type, leniently: what an ADD accepted stays deletable.
    public func del(_ request: CNIRequest) throws {
        let ipMasq = request.config.fields.lenientBool("ipMasq") ?? false
        // Opened before IPAM, so that the netns thread runs while IPAM releases.
        let opened = request.netns.isEmpty ? nil : Result { try kernel.container(request.netns) }
        try IPAMDelegation.del(request, ipam: kernel.ipam)
        var cleanup = Cleanup()
        var deleted = false
        if let opened {
            cleanup.run("container interface") {
                deleted = try ContainerNetwork.deleteContainerInterface(in: opened, ifname: request.ifname)
            }
        }
        if !deleted { deleteHostVeth(request) }
        if ipMasq {
            cleanup.run("masquerade rules") {
                // Runtimes send the cached result as prevResult; without it the maps are listed.
                let addresses = (try? request.config.prevResult())?.ips.map(\.address.address)
                try Masquerade.teardown(
                    network: request.config.name, ifname: request.ifname, containerID: request.containerID,
                    addresses: addresses, kernel: kernel)
            }
        }
        try cleanup.finish()
    }

    /// Without a netns, the host end goes only if it is this attachment's: named as ours and
    /// carrying the host route to one of prevResult's container addresses.
    private func deleteHostVeth(_ request: CNIRequest) {
        guard let previous = try? request.config.prevResult() else { return }
        let addresses = previous.ips.map(\.address.address)
        ContainerNetwork.deleteHostVeth(of: previous, tag: AttachmentTag(request), kernel: kernel) { host, link in
            addresses.contains { address in
                let routes = (try? host.routes(family: address.isV4 ? .inet : .inet6)) ?? []
                return routes.contains {
                    $0.outputIndex == link.index && $0.destination == address.hostPrefix
                }
            }
        }
    }

    public func check(_ request: CNIRequest) throws {
        let conf = try Config(request)
        let namespace = try kernel.container(request.netns)
        try kernel.ipam.run(conf.ipamType, .check, request)
        let previous = try request.config.requiredPrevResult(prefix: "ptp: ")
        guard let entry = previous.interfaces.first(where: { $0.name == request.ifname && $0.sandbox == request.netns })
        else {
            throw CNIError(.internalError, "Sandbox in prevResult doesn't match configured netns: \(request.netns)")
        }
        let container = namespace.route
        guard let link = try? container.link(named: request.ifname) else {
            throw CNIError(.internalError, "ptp: Container Interface name in prevResult: \(request.ifname) not found")
        }
        guard link.kind == "veth" else {
            throw CNIError(.internalError, "Error: Container interface \(request.ifname) not of type veth/p2p")
        }
        if !entry.mac.isEmpty, entry.mac != link.hardwareAddress.description {
            throw CNIError(
                .internalError,
                "ptp: Interface \(request.ifname) Mac \(entry.mac) doesn't match container Mac: \(link.hardwareAddress.description)"
            )
        }
        try ContainerCheck.addressesAndRoutes(previous, ifname: request.ifname, link: link, route: container)
        if conf.ipMasq,
            try !Masquerade.present(
                network: request.config.name, ifname: request.ifname, containerID: request.containerID,
                addresses: previous.ips.map(\.address.address), kernel: kernel)
        {
            throw CNIError(.internalError, "masquerade rules for \(request.containerID)/\(request.ifname) are missing")
        }
    }

    public func gc(_ request: CNIRequest) throws {
        let conf = try Config(request)
        let keep = try request.config.validAttachments()
        var cleanup = Cleanup()
        cleanup.run("masquerade rules") {
            try Masquerade.collect(network: request.config.name, keep: keep, kernel: kernel)
        }
        cleanup.run("IPAM") { try kernel.ipam.run(conf.ipamType, .gc, request) }
        try cleanup.finish()
    }

    /// Ready when IPAM is (ptp always has one), and nftables answers when `ipMasq` needs it.
    public func status(_ request: CNIRequest) throws {
        let conf = try Config(request)
        if conf.ipMasq { try NetfilterStatus.require(kernel) }
        try kernel.ipam.run(conf.ipamType, .status, request)
    }
}
