import Glibc
import CNISkeleton
import Netlink
import PluginSupport
import CNISystem

/// The `tuning` plugin: sysctls and link attributes (MAC, MTU, promisc, allmulti, txqueuelen)
/// of the container interface, after the main plugin. Attributes it changes are backed up to
/// `<dataDir>/<containerID>_<ifname>.json` (the reference's file) and restored on DEL.
public struct TuningPlugin: CNIPlugin {
    /// The plugin instance the executables run.
    public static let plugin = TuningPlugin()

    public let type = "tuning"

    public let kernel: KernelContext

    /// `kernel` is `.live` outside tests.
    public init(kernel: KernelContext = .live) { self.kernel = kernel }

    /// The reference's backup file name inside the data dir. Both parts are validated by the
    /// skeleton (no `/`, no `..`), so it always names a file directly in the data dir.
    func backupName(_ request: CNIRequest) -> String {
        "\(request.containerID)_\(request.ifname).json"
    }

    public func add(_ request: CNIRequest) throws -> CNIResult {
        let conf = try TuningConfig(request)
        var result = try request.config.requiredPrevResult()
        result.cniVersion = request.config.cniVersion
        let rollback = Rollback()
        defer { rollback.unwindIfNeeded(log: { ProcessEnvironment().writeStderr("tuning: \($0)\n") }) }
        let namespace = try kernel.container(request.netns)
        let container = namespace.route
        // The interface is needed only to change it: like the reference, a sysctl-only config
        // works without one. Looked up before anything is written, so a failure leaves nothing.
        var link: Link? = nil
        if conf.changesLink {
            guard let found = try? container.link(named: request.ifname) else {
                throw CNIError(.internalError, "failed to get \"\(request.ifname)\"")
            }
            link = found
        }
        // Entering the container's namespace costs a thread: only when there is a sysctl to write.
        if !conf.sysctl.isEmpty {
            let previous = try namespace.sysctl.access {
                try Self.writeSysctls(conf.sysctl, ifname: request.ifname, $0)
            }
            rollback.add("sysctls") {
                try namespace.sysctl.access { values in for (key, value) in previous { try? values.write(key, value) } }
            }
        }
        if let link {
            let backup = TuningBackup(of: link, for: conf)
            let name = backupName(request)
            // Root-only, complete when it appears, and never through a planted link. A backup
            // that already exists belongs to a live attachment (this ADD is a repeat): it holds
            // the real original values, so it is kept, and only one made here is ever removed.
            let dir: StateDirectory
            let created: Bool
            do {
                dir = try StateDirectory(conf.dataDir)
                created = try dir.createIfMissing(name, Array(backup.json.utf8), temporary: ".\(name).\(getpid())")
            } catch {
                throw CNIError(.internalError, "failed to save the tuning backup: \(error)")
            }
            rollback.add("link attributes") {
                try backup.restore(container, index: link.index)
                if created { try? dir.remove(name) }
            }
            try apply(conf, container, index: link.index)
            if let mac = conf.macText?.lowercased() {
                for i in result.interfaces.indices where result.interfaces[i].name == request.ifname {
                    result.interfaces[i].mac = mac
                }
            }
        }
        rollback.commit()
        return result
    }

    /// Writes each sysctl; returns the previous values, for rollback.
    static func writeSysctls(
        _ sysctls: [(key: String, value: String)], ifname: String, _ values: any SysctlValues
    ) throws -> [(String, String)] {
        var previous: [(String, String)] = []
        do {
            for (key, value) in sysctls {
                let path = try TuningConfig.path(of: key, ifname: ifname)
                // Some values cannot be read back (write-only `route/flush`, an unset
                // `stable_secret`): written as the reference writes them, with nothing to restore.
                let old = try? values.read(path)
                try values.write(path, value)
                if let old { previous.append((path, old)) }
            }
        } catch {
            for (path, value) in previous.reversed() { try? values.write(path, value) }
            throw CNIError.wrapping(error)
        }
        return previous
    }

    private func apply(_ conf: TuningConfig, _ route: RouteNetlink, index: Int32) throws {
        if let mac = conf.mac { try route.setLink(index: index, .hardwareAddress(mac)) }
        if conf.promisc { try route.setLink(index: index, .promiscuous(true)) }
        if let mtu = conf.mtu { try route.setLink(index: index, .mtu(mtu)) }
        if let on = conf.allMulticast { try route.setLink(index: index, .allMulticast(on)) }
        if let length = conf.txQueueLength { try route.setLink(index: index, .txQueueLength(length)) }
    }

    /// Restores what ADD changed, when the backup and the link still exist. Always succeeds.
    /// Reads only `dataDir` (leniently), so whatever an ADD accepted stays deletable.
    public func del(_ request: CNIRequest) throws {
        let path = request.config.fields.lenientString("dataDir") ?? ""
        let name = backupName(request)
        guard let dir = try? StateDirectory(path.isEmpty ? TuningConfig.defaultDataDir : path, create: false) else {
            return
        }
        // An ADD killed between writing its temporary (`.<backup>.<pid>`) and linking it into
        // place leaves it behind; it is this attachment's, and goes now unless its ADD still runs.
        dir.removeStaleTemporaries(prefixes: [".\(name)."])
        guard let bytes = try? dir.read(name), let backup = TuningBackup(json: bytes) else { return }
        guard !request.netns.isEmpty, let container = try? kernel.containerRoute(request.netns),
            let link = try? container.link(named: request.ifname)
        else { return }
        if (try? backup.restore(container, index: link.index)) != nil { try? dir.remove(name) }
    }

    public func check(_ request: CNIRequest) throws {
        let conf = try TuningConfig(request)
        _ = try request.config.requiredPrevResult()
        let namespace = try kernel.container(request.netns)
        let mismatch =
            conf.sysctl.isEmpty
            ? nil
            : try namespace.sysctl.access { values throws -> String? in
                for (key, value) in conf.sysctl {
                    let path = try TuningConfig.path(of: key, ifname: request.ifname)
                    let current = try values.read(path)
                    if current != value {
                        return "Error: Tuning configured value of \(path) is \(value), current value is \(current)"
                    }
                }
                return nil
            }
        if let mismatch { throw CNIError(.internalError, mismatch) }
        guard let link = try? namespace.route.link(named: request.ifname) else {
            throw CNIError(.internalError, "Cannot find container link \(request.ifname)")
        }
        try TuningBackup.verify(conf, link: link, ifname: request.ifname)
    }
}
