import CNISkeleton
import Netlink
import PluginSupport

/// One bridge ADD. Each step that creates something registers its undo, so a failure at any
/// point leaves no link, address, rule or reservation behind.
struct BridgeAdd {
    let request: CNIRequest
    let kernel: KernelContext
    let rollback = Rollback()

    func run() throws -> CNIResult {
        defer { rollback.unwindIfNeeded(log: { ProcessEnvironment().writeStderr("bridge: \($0)\n") }) }
        let conf = try BridgeConfig(request)
        let host = try kernel.hostRoute()
        // Opened before the bridge is read, so that any later change of its MAC is announced.
        let watch = kernel.hostLinkWatch()
        // With IPAM, the pod's IPv6 settings are written: opened with the route socket.
        let namespace = try kernel.container(request.netns, needs: conf.ipamType.isEmpty ? [] : .ipv6Sysctls)
        let container = namespace.route

        let (bridge, created) = try BridgeDevice.ensure(host, conf, sysctl: kernel.hostSysctl)
        if created {
            rollback.add("bridge \(conf.bridge)") { try BridgeDevice.removeIfUnused(host, index: bridge.index) }
        }

        let veth = try ContainerNetwork.createVeth(
            host: host, in: namespace, tag: AttachmentTag(request), mtu: conf.mtu, containerMAC: conf.mac,
            master: bridge.index, hostSysctl: kernel.hostSysctl)
        rollback.add("veth \(veth.host.name)") { try? host.deleteLink(index: veth.host.index) }
        var portSettings: [(BridgePortAttribute, Bool)] = []
        if conf.hairpinMode { portSettings.append((.hairpin, true)) }
        if conf.portIsolation { portSettings.append((.isolated, true)) }
        if !portSettings.isEmpty { try host.setBridgePort(index: veth.host.index, portSettings) }
        if conf.usesVlans { try BridgeVlans.apply(host, port: veth.host.index, conf) }

        var result = CNIResult(
            cniVersion: request.config.cniVersion,
            interfaces: [
                .init(name: bridge.name, mac: bridge.hardwareAddress.description),
                .init(name: veth.host.name, mac: veth.host.hardwareAddress.description),
                .init(
                    name: veth.container.name, mac: veth.container.hardwareAddress.description, sandbox: request.netns),
            ])

        if conf.ipamType.isEmpty {
            if !conf.disableContainerInterface { try container.setLink(index: veth.container.index, up: true) }
        } else {
            let ipam = try IPAMDelegation.add(request, type: conf.ipamType, rollback: rollback, ipam: kernel.ipam)
            result.ips = ipam.ips.map {
                var ip = $0; ip.interface = 2; return ip
            }
            result.routes = ipam.routes
            result.dns = ipam.dns
            let gateways = computeGateways(&result, conf)
            try configureContainer(result, conf, namespace, index: veth.container.index)
            if conf.isGateway { try configureGateways(host, bridge: bridge, gateways: gateways, conf, &result) }
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
        }
        // After IPAM, which refuses a repeated ADD of a live attachment: the rules are keyed by
        // (container, interface), so setting them up (or rolling them back) before that would
        // replace or remove the live attachment's.
        if conf.macSpoofCheck {
            try MacSpoofCheck.setup(
                hostInterface: veth.host.name, mac: veth.container.hardwareAddress,
                containerID: request.containerID, ifname: request.ifname, kernel: kernel)
            rollback.add("mac spoof check") {
                try MacSpoofCheck.teardown(containerID: request.containerID, ifname: request.ifname, kernel: kernel)
            }
        }
        if let dns = conf.dns { result.dns = dns }
        if !conf.disableContainerInterface { try waitForPort(host, watch, index: veth.host.index) }
        result.interfaces[0].mac = try currentMAC(host, watch, bridge).description
        rollback.commit()
        return result
    }

    /// The bridge's MAC now: it may have changed as the port joined. Without a lost
    /// announcement, the newest one since the watch opened (before `bridge` was read) is it.
    private func currentMAC(_ host: RouteNetlink, _ watch: LinkWatch?, _ bridge: Link) throws -> MACAddress {
        if let watch {
            watch.collect()
            if !watch.lost, !watch.heard(index: bridge.index) { return bridge.hardwareAddress }
            if !watch.lost, let link = watch.link(index: bridge.index) { return link.hardwareAddress }
        }
        return try host.link(index: bridge.index).hardwareAddress
    }

    /// Fills in gateways (network+1 when IPAM gave none and the bridge is the gateway) and
    /// default routes for `isDefaultGateway`. Returns the gateway prefixes for the bridge.
    private func computeGateways(_ result: inout CNIResult, _ conf: BridgeConfig) -> [IPPrefix] {
        var gateways: [IPPrefix] = []
        for i in result.ips.indices {
            let prefix = result.ips[i].address
            if result.ips[i].gateway == nil && conf.isGateway { result.ips[i].gateway = prefix.network.advanced(by: 1) }
            guard let gateway = result.ips[i].gateway else { continue }
            if conf.isGateway { gateways.append(IPPrefix(address: gateway, prefixLength: prefix.prefixLength)) }
            if conf.isDefaultGateway {
                let isV4 = prefix.address.isV4
                let hasDefault = result.routes.contains {
                    $0.dst.prefixLength == 0 && $0.dst.address.isV4 == isV4 && $0.gw != nil
                }
                if !hasDefault {
                    result.routes.append(
                        .init(dst: IPPrefix(address: isV4 ? .v4(0) : .v6(0), prefixLength: 0), gw: gateway))
                }
            }
        }
        return gateways
    }

    private func configureContainer(
        _ result: CNIResult, _ conf: BridgeConfig, _ namespace: ContainerNamespace, index: Int32
    ) throws {
        let ifname = request.ifname
        try namespace.sysctl.access { values in
            if conf.enableDAD {
                try? values.write("net/ipv6/conf/\(ifname)/enhanced_dad", "1")
                try? values.write("net/ipv6/conf/\(ifname)/accept_dad", "1")
            } else {
                try? values.write("net/ipv6/conf/\(ifname)/accept_dad", "0")
            }
        }
        // arp_notify over netlink: no /proc/sys/net/ipv4 lookup (see IPv4DeviceSetting).
        try? namespace.route.setLink(index: index, .ipv4(.arpNotify, 1))
        try ContainerNetwork.configureInterface(result, ifname: ifname, container: namespace)
    }

    /// The gateway addresses on the bridge, or with an access VLAN on `<bridge>.<vlan>` (which
    /// then joins the result's interfaces); forwarding on for their families.
    private func configureGateways(
        _ host: RouteNetlink, bridge: Link, gateways: [IPPrefix], _ conf: BridgeConfig, _ result: inout CNIResult
    ) throws {
        var target = bridge
        if conf.vlan != 0, !gateways.isEmpty {
            let (gateway, created) = try BridgeVlanGateway.ensure(host, bridge: bridge, conf)
            if created { rollback.add("vlan gateway \(gateway.name)") { try? host.deleteLink(index: gateway.index) } }
            result.interfaces.append(.init(name: gateway.name, mac: gateway.hardwareAddress.description))
            target = gateway
        }
        for gateway in gateways {
            _ = try BridgeDevice.ensureAddress(host, bridge: target, gateway: gateway, force: conf.forceAddress)
        }
        try Forwarding.enable(
            v4: gateways.contains { $0.address.isV4 }, v6: gateways.contains { !$0.address.isV4 },
            sysctl: kernel.hostSysctl, route: host)
    }

    /// The host port must reach operational UP. Its announcement is awaited first (50 ms at
    /// most): asking would wait for the kernel's work on the pod's new interface (see
    /// `LinkWatch`). Then it is asked for as the reference does: at 0, 50, 500, 1000, 1000 ms.
    private func waitForPort(_ host: RouteNetlink, _ watch: LinkWatch?, index: Int32) throws {
        if let watch, watch.awaitUp(index: index, milliseconds: 50) { return }
        var state = OperationalState.unknown
        for delay: UInt32 in [0, 50_000, 500_000, 1_000_000, 1_000_000] {
            if delay > 0 { ContainerNetwork.sleep(microseconds: delay) }
            state = try host.link(index: index).operationalState
            if state == .up { return }
        }
        throw CNIError(.internalError, "bridge port in error state: \(state)")
    }
}
