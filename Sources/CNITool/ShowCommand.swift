import CNISkeleton
import CNISystem
import Glibc
import Netfilter
import Netlink
import PluginSupport

/// `cni show [NETWORK] [--json]`: every attachment in libcni's cache, checked against the
/// kernel and the IPAM state.
public enum ShowCommand {
    public static let help = """
        usage: cni show [NETWORK] [--json]

        Lists every attachment runtimes cached (CNI_CACHE_DIR, default /var/lib/cni), or only
        NETWORK's, each checked against the node: whether its netns and interfaces still exist,
        its addresses and their host-local reservations, and the nftables elements and rules
        that carry its container ID (portmap) or attachment tag (masquerade, firewall).

        examples:
          cni show
          cni show podman --json

        """

    /// One attachment as the node has it.
    struct Report {
        var entry: CachedAttachment
        var netnsPresent: Bool
        var addresses: [String]
        var interfaces: [(name: String, sandbox: String, present: Bool, qdiscs: [String])]
        var reservations: [String]
        var nftables: [(table: String, owned: Int)]

        var json: JSONValue {
            JSONValue.object([
                ("network", .string(entry.network)), ("containerID", .string(entry.containerID)),
                ("ifname", .string(entry.ifname)), ("netns", .string(entry.netnsPath)),
                ("netnsPresent", .bool(netnsPresent)), ("ips", .array(addresses.map { .string($0) })),
                (
                    "interfaces",
                    .array(
                        interfaces.map {
                            JSONValue.object([
                                ("name", .string($0.name)), ("sandbox", .string($0.sandbox)),
                                ("present", .bool($0.present)), ("qdiscs", .array($0.qdiscs.map { .string($0) })),
                            ])
                        })
                ),
                ("reservations", .array(reservations.map { .string($0) })),
                (
                    "nftables",
                    .array(
                        nftables.map {
                            JSONValue.object([("table", .string($0.table)), ("entries", JSONValue.int($0.owned))])
                        })
                ),
            ])
        }

        var text: String {
            var lines = ["\(entry.network) \(entry.containerID) \(entry.ifname)"]
            let netns = entry.netnsPath
            lines.append("  netns: \(netns.isEmpty ? "-" : netns)\(netnsPresent ? "" : " (gone)")")
            lines.append("  ips: " + (addresses.isEmpty ? "-" : addresses.joined(separator: ", ")))
            for i in interfaces {
                let place = i.sandbox.isEmpty ? "host" : "netns"
                let qdiscs = i.qdiscs.isEmpty ? "" : ", qdiscs " + i.qdiscs.joined(separator: " ")
                lines.append("  interface \(i.name) (\(place)): \(i.present ? "present" : "missing")\(qdiscs)")
            }
            lines.append("  reservations: " + (reservations.isEmpty ? "-" : reservations.joined(separator: ", ")))
            for (table, owned) in nftables { lines.append("  nftables \(table): \(owned)") }
            return lines.joined(separator: "\n")
        }
    }

    public static func run(_ arguments: [String], environment: [String: String]) -> (String, Int32) {
        let json = arguments.contains("--json")
        let named = arguments.filter { !$0.hasPrefix("-") }
        guard named.count <= 1, arguments.allSatisfy({ !$0.hasPrefix("-") || $0 == "--json" }) else { return (help, 2) }
        let env: ToolEnvironment
        do { env = try ToolEnvironment(environment) } catch { return (error.json(cniVersion: "1.1.0") + "\n", 1) }
        let entries = ResultCache(root: env.cacheDirectory).entries().filter { named.isEmpty || $0.network == named[0] }
        let nft = NFTOwners()
        let reports = entries.map { report($0, nft) }
        if json { return (JSONWriter.indented(.array(reports.map(\.json))) + "\n", 0) }
        if reports.isEmpty { return ("no attachments in \(env.cacheDirectory)/results\n", 0) }
        return (reports.map(\.text).joined(separator: "\n") + "\n", 0)
    }

    static func report(_ entry: CachedAttachment, _ nft: NFTOwners) -> Report {
        let result = entry.result?.objectValue
        let addresses: [String] = {
            if case .array(let ips)? = result?["ips"] {
                return ips.compactMap { $0.objectValue?["address"]?.stringValue }
            }
            // 0.1.0 and 0.2.0 results: `ip4` and `ip6`, each with its `ip`.
            return ["ip4", "ip6"].compactMap { result?[$0]?.objectValue?["ip"]?.stringValue }
        }()
        var interfaces: [(String, String, Bool, [String])] = []
        let container = entry.netnsPath.isEmpty ? nil : try? ContainerNamespace.live(path: entry.netnsPath)
        let host = try? RouteNetlink()
        if case .array(let items)? = result?["interfaces"] {
            for item in items {
                guard let name = item.objectValue?["name"]?.stringValue else { continue }
                let sandbox = item.objectValue?["sandbox"]?.stringValue ?? ""
                let route = sandbox.isEmpty ? host : container?.route
                let link = try? route?.link(named: name)
                // What shapes its traffic (bandwidth's ingress and tbf), as `tc qdisc show` lists it.
                let qdiscs = link.flatMap { try? route?.qdiscs(index: $0.index) }?.map(\.kind) ?? []
                interfaces.append((name, sandbox, link != nil, qdiscs.filter { $0 != "noqueue" }))
            }
        }
        let tag = AttachmentTag(network: entry.network, ifname: entry.ifname, containerID: entry.containerID)
        return Report(
            entry: entry, netnsPresent: container != nil, addresses: addresses, interfaces: interfaces,
            reservations: reservations(entry), nftables: nft.owned(containerID: entry.containerID, tag: tag.prefix))
    }

    /// host-local's files naming this attachment (`<dataDir>/<network>/<ip>` holding the ID).
    static func reservations(_ entry: CachedAttachment) -> [String] {
        var dataDir = "/var/lib/cni/networks"
        if case .object(let list)? = try? JSONParser.parse(entry.config) {
            // A conflist's plugins, or a single-plugin config itself.
            let plugins: [JSONValue] = {
                if case .array(let p)? = list["plugins"] { return p } else { return [.object(list)] }
            }()
            for plugin in plugins {
                if let dir = plugin.objectValue?["ipam"]?.objectValue?["dataDir"]?.stringValue { dataDir = dir }
            }
        }
        let directory = dataDir + "/" + entry.network
        return NetworkList.entries(of: directory).filter { name in
            guard name.first?.isHexDigit == true, name.contains(".") || name.contains(":"),
                let bytes = try? FileIO.readFile(directory + "/" + name, limit: 4096, noFollow: true)
            else { return false }
            // `<containerID>\r\n<ifname>`; split on bytes, as "\r\n" is one Character.
            let holder = bytes.split(whereSeparator: { $0 == 13 || $0 == 10 }).first ?? []
            return String(decoding: holder, as: UTF8.self) == entry.containerID
        }
    }
}

/// The nftables state of the node, read once: who owns each element and rule of the tables
/// the plugins write (``NetfilterLeaks/layouts``).
struct NFTOwners {
    private var comments: [(table: String, comment: String)] = []

    init() {
        guard let client = try? NFTClient() else { return }
        for layout in NetfilterLeaks.layouts {
            for set in layout.sets {
                for element in (try? client.elements(family: layout.family, table: layout.table, set: set)) ?? [] {
                    if let comment = element.comment { comments.append((layout.name, comment)) }
                }
            }
            for chain in layout.chains {
                for rule in (try? client.rules(family: layout.family, table: layout.table, chain: chain)) ?? [] {
                    if let comment = rule.comment { comments.append((layout.name, comment)) }
                }
            }
        }
    }

    /// How many entries of each table name this attachment.
    func owned(containerID: String, tag: String) -> [(table: String, owned: Int)] {
        let owner = AttachmentTag.portmapOwner(containerID)
        var counts: [(String, Int)] = []
        for (table, comment) in comments where comment == owner || comment.hasPrefix(tag) {
            if let i = counts.firstIndex(where: { $0.0 == table }) {
                counts[i].1 += 1
            } else {
                counts.append((table, 1))
            }
        }
        return counts
    }
}
