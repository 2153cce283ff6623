import CNISkeleton
import Netlink
import PluginSupport

/// Bridge CHECK: everything ADD made must still be there as prevResult describes it.
/// Unlike the reference, an L2 config (no IPAM) is checked too instead of failing on the
/// missing IPAM type.
struct BridgeCheck {
    let request: CNIRequest
    let kernel: KernelContext

    func run() throws {
        let conf = try BridgeConfig(request)
        if !conf.ipamType.isEmpty { try kernel.ipam.run(conf.ipamType, .check, request) }
        let previous = try request.config.requiredPrevResult()
        let host = try kernel.hostRoute()
        guard let bridgeEntry = previous.interfaces.first(where: { $0.name == conf.bridge }),
            let bridge = try? host.link(named: conf.bridge), bridge.kind == "bridge"
        else {
            throw CNIError(.internalError, "CNI created bridge \(conf.bridge) in host namespace was not found")
        }
        if !bridgeEntry.mac.isEmpty, bridgeEntry.mac != bridge.hardwareAddress.description {
            throw CNIError(
                .internalError,
                "bridge \(conf.bridge) has MAC \(bridge.hardwareAddress.description), expected \(bridgeEntry.mac)")
        }
        if conf.promiscMode != bridge.flags.contains(.promiscuous) {
            throw CNIError(
                .internalError, "bridge \(conf.bridge) promiscuous mode does not match promiscMode \(conf.promiscMode)")
        }
        guard
            let containerEntry = previous.interfaces.first(where: { $0.name == request.ifname && !$0.sandbox.isEmpty })
        else {
            throw CNIError(.internalError, "prevResult has no interface \(request.ifname) with a sandbox")
        }
        if containerEntry.sandbox != request.netns {
            throw CNIError(
                .internalError,
                "Sandbox in prevResult \(containerEntry.sandbox) doesn't match configured netns: \(request.netns)")
        }
        let container = try kernel.containerRoute(request.netns)
        guard let link = try? container.link(named: request.ifname), link.kind == "veth" else {
            throw CNIError(.internalError, "container interface \(request.ifname) is missing or not a veth")
        }
        if !containerEntry.mac.isEmpty, containerEntry.mac != link.hardwareAddress.description {
            throw CNIError(
                .internalError,
                "interface \(request.ifname) has MAC \(link.hardwareAddress.description), expected \(containerEntry.mac)"
            )
        }
        let hostVeth = previous.interfaces.first { $0.sandbox.isEmpty && $0.name != conf.bridge }
        guard let hostVeth, let hostLink = try? host.link(named: hostVeth.name), hostLink.masterIndex == bridge.index
        else {
            throw CNIError(.internalError, "CNI veth created for bridge \(conf.bridge) was not found")
        }
        try ContainerCheck.addressesAndRoutes(previous, ifname: request.ifname, link: link, route: container)
        if conf.ipMasq, !previous.ips.isEmpty,
            try !Masquerade.present(
                network: request.config.name, ifname: request.ifname, containerID: request.containerID,
                addresses: previous.ips.map(\.address.address), kernel: kernel)
        {
            throw CNIError(.internalError, "masquerade rules for \(request.containerID)/\(request.ifname) are missing")
        }
    }
}
