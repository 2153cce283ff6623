import CNISkeleton
import Netfilter
import Netlink
import PluginSupport

/// The `portmap` plugin: forwards host ports to the container (DNAT), with masquerading for
/// hairpin and localhost traffic, in nftables. Chained: it passes prevResult through.
public struct PortmapPlugin: CNIPlugin {
    /// The plugin instance the executables run.
    public static let plugin = PortmapPlugin()

    public let type = "portmap"
    /// The kernel it talks to; tests pass a fake.
    public let kernel: KernelContext

    public init(kernel: KernelContext = .live) { self.kernel = kernel }

    public func add(_ request: CNIRequest) throws -> CNIResult {
        let conf = try PortmapConfig(request)
        guard var result = try request.config.prevResult() else {
            throw CNIError(.invalidNetworkConfig, "must be called as chained plugin")
        }
        result.cniVersion = request.config.cniVersion
        guard !conf.mappings.isEmpty else { return result }
        let rollback = Rollback()
        defer { rollback.unwindIfNeeded(log: { ProcessEnvironment().writeStderr("portmap: \($0)\n") }) }
        let tables = PortmapTables(client: try kernel.netfilter(), containerID: request.containerID)
        let containers = PortmapConfig.containerAddresses(result, ifname: request.ifname)
        rollback.add("port mappings") {
            try NetfilterLock.holding(kernel) { try tables.remove(conf, addresses: containers) }
        }
        for container in containers {
            do { try NetfilterLock.holding(kernel) { try tables.add(container, conf) } } catch {
                throw CNIError(.internalError, "unable to set up nftables rules for port mappings: \(error)")
            }
            if container.isV4 && conf.snat { enableLocalhostRouting(to: container) }
            // After the rules, so that the flow's next packet meets them.
            flushConntrack(conf, family: container.isV4 ? 2 : 10)
        }
        rollback.commit()
        return result
    }

    /// Deletes the conntrack entries of the UDP and SCTP host ports (the reference: UDP on ADD
    /// only): a flow that started before the mapping, or was DNATed to a pod now gone, would
    /// otherwise keep its old NAT decision while it keeps sending. Best effort.
    /// A mapping bound to a host IP touches only the entries to that address, and only the
    /// families the container has are flushed.
    private func flushConntrack(_ conf: PortmapConfig, family: UInt8) {
        for mapping in conf.mappings where mapping.protocolNumber == 17 || mapping.protocolNumber == 132 {
            var destination: IPAddress? = nil
            if let hostIP = mapping.hostIP, !hostIP.isUnspecified {
                guard hostIP.isV4 == (family == 2) else { continue }
                destination = hostIP
            }
            do { _ = try kernel.deleteConntrack(family, mapping.protocolNumber, mapping.hostPort, destination) } catch {
                ProcessEnvironment().writeStderr(
                    "portmap: stale conntrack entries for port \(mapping.hostPort) stay: \(error)\n")
            }
        }
    }

    /// Localhost-originated traffic to a mapped port needs `route_localnet` on the interface
    /// that routes to the container, as in the reference. Best effort.
    private func enableLocalhostRouting(to container: IPAddress) {
        guard let route = try? kernel.hostRoute(), let output = try? route.routeGet(container).outputIndex,
            let link = try? route.link(index: output)
        else { return }
        // The link message carries the device's IPv4 settings: most ADDs find it on already
        // and never look up /proc/sys/net/ipv4 (see IPv4DeviceSetting).
        if link.ipv4(.routeLocalnet) == 1 { return }
        _ = try? kernel.hostSysctl.access { try $0.ensure("net/ipv4/conf/\(link.name)/route_localnet", "1") }
    }

    /// Removes this container's rules. Like the reference, a DEL without portMappings has
    /// nothing to do (and does no netfilter work).
    public func del(_ request: CNIRequest) throws {
        // Lenient: a config that cannot be read still has its rules removed, so whatever an
        // ADD accepted stays deletable. Only a readable config without mappings skips the work.
        let conf = try? PortmapConfig(request)
        if let conf, conf.mappings.isEmpty { return }
        // The container's addresses from prevResult when it came (runtimes send the cached result).
        let addresses = ((try? request.config.prevResult()) ?? nil).map {
            PortmapConfig.containerAddresses($0, ifname: request.ifname)
        }
        let tables = PortmapTables(client: try kernel.netfilter(), containerID: request.containerID)
        try NetfilterLock.holding(kernel) { try tables.remove(conf, addresses: addresses) }
        // Flows DNATed to this pod would keep going nowhere until their entries expire.
        if let conf {
            // The container's families from prevResult when it came; both otherwise.
            let families: [UInt8] =
                addresses.map { found in [UInt8(2), 10].filter { f in found.contains { ($0.isV4 ? 2 : 10) == f } } }
                ?? [2, 10]
            for family in families { flushConntrack(conf, family: family) }
        }
    }

    /// Ready when nftables answers.
    public func status(_ request: CNIRequest) throws {
        try NetfilterStatus.require(kernel)
    }

    /// Every mapping and masquerade rule of the container must be present.
    public func check(_ request: CNIRequest) throws {
        let conf = try PortmapConfig(request)
        let result = try request.config.requiredPrevResult()
        guard !conf.mappings.isEmpty else { return }
        let tables = PortmapTables(client: try kernel.netfilter(), containerID: request.containerID)
        for container in PortmapConfig.containerAddresses(result, ifname: request.ifname) {
            let missing = try tables.missing(container, conf)
            if missing > 0 {
                throw CNIError(.internalError, "\(missing) hostport entries missing in \"\(PortmapRules.table)\"")
            }
        }
    }
}
