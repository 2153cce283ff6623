import CNISkeleton
import Netlink
import PluginSupport

/// One bridge DEL: best effort and idempotent. Host-side objects are removed even when the
/// netns is gone or was not given (the reference leaks masquerade rules then).
struct BridgeDel {
    let request: CNIRequest
    let kernel: KernelContext

    func run() throws {
        let conf = BridgeConfig.Teardown(request)
        var cleanup = Cleanup()
        var deleted = false
        // Opened before IPAM, so that the netns thread runs while IPAM releases.
        let opened = request.netns.isEmpty ? nil : Result { try kernel.container(request.netns) }
        // IPAM first, while the interface exists: dhcp's DHCPRELEASE goes out through it.
        if !conf.ipamType.isEmpty {
            cleanup.run("IPAM") { try kernel.ipam.run(conf.ipamType, .del, request) }
        }
        if let opened {
            cleanup.run("container interface") {
                deleted = try ContainerNetwork.deleteContainerInterface(in: opened, ifname: request.ifname)
            }
        }
        // Without a netns to go through, the host end is removed directly, if it is ours.
        if !deleted {
            let previous = try? request.config.prevResult()
            ContainerNetwork.deleteHostVeth(of: previous, tag: AttachmentTag(request), kernel: kernel) { host, link in
                guard let bridge = try? host.link(named: conf.bridge), bridge.kind == "bridge" else { return false }
                return link.masterIndex == bridge.index
            }
        }
        if conf.ipMasq {
            cleanup.run("masquerade rules") {
                // Runtimes send the cached result as prevResult; without it the maps are listed.
                let addresses = (try? request.config.prevResult())?.ips.map(\.address.address)
                try Masquerade.teardown(
                    network: request.config.name, ifname: request.ifname, containerID: request.containerID,
                    addresses: addresses, kernel: kernel)
            }
        }
        if conf.macSpoofCheck {
            cleanup.run("mac spoof check") {
                try MacSpoofCheck.teardown(containerID: request.containerID, ifname: request.ifname, kernel: kernel)
            }
        }
        try cleanup.finish()
    }
}

extension BridgeConfig {
    /// What DEL needs, read leniently: a config the reference (or our ADD) accepted must stay
    /// deletable, so bad values of keys DEL does not use are never an error here.
    struct Teardown {
        var bridge = "cni0"
        var ipMasq = false
        var macSpoofCheck = false
        var ipamType = ""

        init(_ request: CNIRequest) {
            let f = request.config.fields
            if let name = f.lenientString("bridge"), !name.isEmpty { bridge = name }
            ipMasq = f.lenientBool("ipMasq") ?? false
            macSpoofCheck = f.lenientBool("macspoofchk") ?? false
            ipamType = request.config.lenientIPAMType
        }
    }
}
