import CNISkeleton
import CNISystem
import Glibc
import IPAM

/// `cni doctor [--fix]`: what attachments that are gone left on the node.
public enum DoctorCommand {
    public static let help = """
        usage: cni doctor [--fix]

        Finds what leaked: host-local reservations, nftables elements and rules (portmap,
        masquerade, firewall), tuning backups, host veths on a configured bridge and bandwidth's
        IFBs whose attachment is not in the result cache
        (CNI_CACHE_DIR, default /var/lib/cni) or whose netns is gone. Each finding is one line;
        the exit status is 1 when anything was found. With --fix each one is removed, under the
        locks the plugins take, and said. Reservations younger than a minute are left alone: their
        ADD may still be running. Like GC, --fix is for a node where no ADD is in flight.

        Searches the host-local and tuning data directories that the network configurations in
        NETCONFPATH (default /etc/cni/net.d) use, and the nftables tables of the plugins.

        examples:
          cni doctor
          cni doctor --fix

        """

    /// One leak, and how to remove it.
    struct Finding {
        var text: String
        var fix: () throws -> Void
    }

    public static func run(_ arguments: [String], environment: [String: String]) -> (String, Int32) {
        guard arguments.allSatisfy({ $0 == "--fix" }) else { return (help, 2) }
        let fix = arguments.contains("--fix")
        let env: ToolEnvironment
        do { env = try ToolEnvironment(environment) } catch { return (error.json(cniVersion: "1.1.0") + "\n", 1) }
        let live = Attachments(ResultCache(root: env.cacheDirectory).entries())
        let lists = NetworkList.all(in: env.configDirectory)
        var findings = reservations(lists, live) + tuningBackups(lists, live)
        findings += NetfilterLeaks(live: live).findings + LinkLeaks.findings(lists, live)
        if findings.isEmpty { return ("nothing found\n", 0) }
        var out = ""
        for finding in findings {
            out += "leak: \(finding.text)\n"
            guard fix else { continue }
            do {
                try finding.fix()
                out += "  removed\n"
            } catch {
                out += "  not removed: \(error)\n"
            }
        }
        return (out, 1)
    }

    /// The data directories the configured networks give a plugin (`fallback` for one that
    /// names none): only those are searched, so another tool's files are never taken for ours.
    static func directories(_ lists: [NetworkList], type: String, key: String, fallback: String) -> [String] {
        var out: [String] = []
        for list in lists {
            for plugin in list.plugins {
                let holder = type == "host-local" ? plugin["ipam"]?.objectValue : plugin
                guard holder?["type"]?.stringValue == type else { continue }
                let dir = holder?[key]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? fallback
                if !out.contains(dir) { out.append(dir) }
            }
        }
        return out
    }

    static func reservations(_ lists: [NetworkList], _ live: Attachments) -> [Finding] {
        var out: [Finding] = []
        let now = time(nil)
        for dataDir in directories(lists, type: "host-local", key: "dataDir", fallback: "/var/lib/cni/networks") {
            for network in NetworkList.entries(of: dataDir) where isDirectory(dataDir + "/" + network) {
                guard let store = try? DiskStore(dataDir: dataDir, network: network, verify: true) else { continue }
                for (ip, owner) in store.reservations.sorted(by: { $0.key < $1.key })
                where !live.holds(network: network, containerID: owner.containerID, ifname: owner.ifname) {
                    var info = stat()
                    let path = "\(dataDir)/\(network)/\(ip)"
                    guard lstat(path, &info) == 0, now - info.st_mtim.tv_sec >= 60 else { continue }
                    let holder = owner.containerID + (owner.ifname.map { "/" + $0 } ?? "")
                    out.append(
                        Finding(text: "reservation \(ip) in \(dataDir)/\(network), held by \(holder)") {
                            let again = try DiskStore(dataDir: dataDir, network: network, verify: true)
                            try again.release([ip])
                            again.commit()
                        })
                }
            }
        }
        return out
    }

    static func tuningBackups(_ lists: [NetworkList], _ live: Attachments) -> [Finding] {
        var out: [Finding] = []
        for dir in directories(lists, type: "tuning", key: "dataDir", fallback: "/run/cni/tuning") {
            for name in NetworkList.entries(of: dir) where name.hasSuffix(".json") {
                // `<containerID>_<ifname>.json`; a container ID may hold `_` too, the ifname not.
                let stem = name.dropLast(5)
                guard let cut = stem.lastIndex(of: "_") else { continue }
                let (id, ifname) = (String(stem[..<cut]), String(stem[stem.index(after: cut)...]))
                guard !live.holds(containerID: id, ifname: ifname) else { continue }
                out.append(
                    Finding(text: "tuning backup \(dir)/\(name)") {
                        guard unlink(dir + "/" + name) == 0 || errno == ENOENT else {
                            throw CNIError(.ioFailure, "unlink \(dir)/\(name): \(String(cString: strerror(errno)))")
                        }
                    })
            }
        }
        return out
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }
}

/// The attachments the cache holds whose netns still exists (or was not recorded).
struct Attachments {
    let entries: [CachedAttachment]

    init(_ all: [CachedAttachment]) {
        entries = all.filter { $0.netnsPath.isEmpty || access($0.netnsPath, F_OK) == 0 }
    }

    func holds(network: String? = nil, containerID: String, ifname: String?) -> Bool {
        entries.contains {
            $0.containerID == containerID && (ifname == nil || $0.ifname == ifname)
                && (network == nil || $0.network == network)
        }
    }
}
