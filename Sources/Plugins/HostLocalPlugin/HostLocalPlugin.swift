import CNISkeleton
import IPAM

/// The `host-local` IPAM plugin: addresses from configured ranges, state in per-IP files
/// that the reference plugin reads and writes too, so nodes can switch either way.
public struct HostLocalPlugin: CNIPlugin {
    /// The plugin instance the executables run.
    public static let plugin = HostLocalPlugin()

    public let type = "host-local"

    public init() {}

    public func add(_ request: CNIRequest) throws -> CNIResult {
        let config = try HostLocalConfig(request.config, args: request.args)
        var result = CNIResult(cniVersion: request.config.cniVersion)
        if let path = config.resolvConf { result.dns = try ResolvConf.load(path) }
        let store = try DiskStore(dataDir: config.dataDir, network: config.network)
        defer { store.commit() }
        let owner = Owner(containerID: request.containerID, ifname: request.ifname)
        var pending = config.requestedIPs
        var allocated: [IPAddress] = []
        do {
            for (index, set) in config.rangeSets.enumerated() {
                let wanted = pending.firstIndex { set.contains($0) }.map { pending.remove(at: $0) }
                do {
                    let ip = try Allocator(set: set, setIndex: index).allocate(store, for: owner, requested: wanted)
                    allocated.append(ip.address.address)
                    result.ips.append(ip)
                } catch {
                    throw CNIError(
                        error.code, "failed to allocate for range \(index): \(error.msg)", details: error.details)
                }
            }
            guard pending.isEmpty else {
                throw CNIError(
                    .invalidNetworkConfig,
                    "failed to allocate all requested IPs: \(pending.map(\.description).joined(separator: " "))")
            }
        } catch {
            // Release only what this ADD reserved: an address the attachment already held stays.
            try? store.release(allocated)
            throw error
        }
        result.routes = config.routes
        return result
    }

    /// Needs only where the state lives: ranges, gateways and routes are not read, so a config
    /// that an ADD (ours or the reference's) accepted is always deletable.
    public func del(_ request: CNIRequest) throws {
        let dataDir = HostLocalConfig.dataDir(request.config)
        // No listing of the directory while the index's stamp matches, so DEL costs the same
        // next to 1,000 reservations: a file another implementation added or removed since
        // changed the directory's mtime. Since Linux 6.13 every change after the stamp was
        // read gives a new mtime; before, one in the same clock tick can go unseen, which
        // leaves at worst a reservation to GC, as release(heldBy:) reads each file it removes.
        let store = try DiskStore(dataDir: dataDir, network: request.config.name)
        defer { store.commit() }
        // One address per range set is expected; a config DEL cannot parse expects one.
        let ranges = (try? HostLocalConfig(request.config, args: CNIArgs("")))?.rangeSets.count ?? 1
        // A repeated DEL, or a cache that disagrees with the files, pays the listing as before.
        try store.releaseAll(of: Owner(containerID: request.containerID, ifname: request.ifname), expected: ranges)
    }

    public func check(_ request: CNIRequest) throws {
        let config = try HostLocalConfig(request.config, args: CNIArgs(""))
        let store = try DiskStore(dataDir: config.dataDir, network: config.network, verify: true)
        defer { store.commit() }
        if store.addresses(of: Owner(containerID: request.containerID, ifname: request.ifname)).isEmpty {
            throw CNIError(
                .internalError, "host-local: Failed to find address added by container \(request.containerID)")
        }
    }

    /// Releases every reservation of this network whose attachment is not in
    /// `cni.dev/valid-attachments` (the reference does nothing here).
    public func gc(_ request: CNIRequest) throws {
        let config = try HostLocalConfig(request.config, args: CNIArgs(""))
        let valid = Set(try request.config.validAttachments())
        let validIDs = Set(valid.map(\.containerID))
        let store = try DiskStore(dataDir: config.dataDir, network: config.network)
        defer { store.commit() }
        try store.rescan()
        let stale = store.reservations.filter { _, owner in
            if let ifname = owner.ifname {
                return !valid.contains(NetworkConfig.Attachment(containerID: owner.containerID, ifname: ifname))
            }
            return !validIDs.contains(owner.containerID)
        }
        do { try store.release(Array(stale.keys)) } catch {
            throw CNIError(.internalError, "GC could not release every stale reservation", details: error.msg)
        }
    }

    /// Fails with code 50 when a range set has no free address, since ADD needs one from each.
    public func status(_ request: CNIRequest) throws {
        let config = try HostLocalConfig(request.config, args: CNIArgs(""))
        let store = try DiskStore(dataDir: config.dataDir, network: config.network)
        defer { store.commit() }
        let taken = Array(store.reservations.keys)
        for (index, set) in config.rangeSets.enumerated() {
            let capacity = set.ranges.reduce(UInt128(0)) { $0 &+ $1.capacity }
            let used = UInt128(taken.filter { ip in set.ranges.contains { $0.contains(ip) && ip != $0.gateway } }.count)
            if used >= capacity {
                throw CNIError(
                    .pluginNotAvailable,
                    "network \(config.network) is full: no IP addresses available in range set \(index) (\(set))")
            }
        }
    }
}
