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
        IFBs, and the dhcp daemon's leases (CNI_DHCP_STATEDIR, default /var/lib/cni/dhcp) whose
        attachment is not in the result cache, and temporaries that killed plugins left
        (CNI_CACHE_DIR, default /var/lib/cni) or whose netns is gone. Each finding is one line;
        the exit status is 1 when anything was found. With --fix each one is removed, under the
        locks the plugins take, and said; a lease is released through the daemon, as the dhcp
        plugin's DEL does. Reservations younger than a minute are left alone: their
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
        findings += DhcpLeaks.findings(lists, live, env)
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

    /// Reservation files whose holder is not live, read as files (the store itself, which
    /// sweeps as it opens, is used only to remove one, under host-local's lock).
    static func reservations(_ lists: [NetworkList], _ live: Attachments) -> [Finding] {
        var out: [Finding] = []
        let now = time(nil)
        for dataDir in directories(lists, type: "host-local", key: "dataDir", fallback: "/var/lib/cni/networks") {
            for network in NetworkList.entries(of: dataDir) where isDirectory(dataDir + "/" + network) {
                let directory = dataDir + "/" + network
                out += temporaries(in: directory, prefixes: [".swift-cni-r.", ".swift-cni-l."])
                out += temporaries(in: directory + "/.swift-cni", prefixes: ["r.", "s.", "i.", "l."])
                for name in NetworkList.entries(of: directory) {
                    guard let ip = IPAddress(name),
                        let bytes = try? FileIO.readFile(directory + "/" + name, limit: 4096, noFollow: true)
                    else { continue }
                    // `<containerID>\r\n<ifname>`, or the bare ID of older files.
                    let fields = bytes.split(whereSeparator: { $0 == 13 || $0 == 10 }).map {
                        String(decoding: $0, as: UTF8.self)
                    }
                    let id = fields.first ?? "", ifname = fields.count > 1 ? fields[1] : nil
                    var info = stat()
                    guard !live.holds(network: network, containerID: id, ifname: ifname),
                        lstat(directory + "/" + name, &info) == 0, now &- info.st_mtim.tv_sec >= 60
                    else { continue }
                    let holder = id + (ifname.map { "/" + $0 } ?? "")
                    out.append(
                        Finding(text: "reservation \(ip) in \(directory), held by \(holder)") {
                            let store = try DiskStore(dataDir: dataDir, network: network, verify: true)
                            try store.release([ip])
                            store.commit()
                        })
                }
            }
        }
        return out
    }

    /// Temporaries a killed writer left (`<prefix><pid>...` of a process that is gone).
    static func temporaries(in directory: String, prefixes: [String]) -> [Finding] {
        NetworkList.entries(of: directory, hidden: true).filter {
            StateDirectory.isStaleTemporary($0, prefixes: prefixes)
        }.map { name in
            Finding(text: "temporary file \(directory)/\(name)") {
                guard unlink(directory + "/" + name) == 0 || errno == ENOENT else {
                    throw CNIError(.ioFailure, "unlink \(directory)/\(name): \(String(cString: strerror(errno)))")
                }
            }
        }
    }

    static func tuningBackups(_ lists: [NetworkList], _ live: Attachments) -> [Finding] {
        var out: [Finding] = []
        for dir in directories(lists, type: "tuning", key: "dataDir", fallback: "/run/cni/tuning") {
            // tuning writes `.<backup>.<pid>` first.
            let hidden = NetworkList.entries(of: dir, hidden: true).filter {
                $0.hasPrefix(".") && $0.contains(".json.")
            }
            for name in hidden {
                let prefix = String(name[..<(name.firstRange(of: ".json.")?.upperBound ?? name.endIndex)])
                out += temporaries(in: dir, prefixes: [prefix]).filter { $0.text.hasSuffix("/" + name) }
            }
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
