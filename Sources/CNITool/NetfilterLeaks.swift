import CNISkeleton
import CNISystem
import Netfilter
import Netlink
import PluginSupport

/// nftables elements and rules whose owner is not a live attachment: portmap's carry the
/// container ID, masquerade's and firewall's the attachment tag.
struct NetfilterLeaks {
    /// One table the plugins write: its sets and its per-pod rule chains.
    struct Layout {
        var family: NFTFamily
        var table: String
        var sets: [String]
        var chains: [String]
        var byContainerID: Bool

        var name: String { "\(family) \(table)" }
    }

    static let layouts: [Layout] = {
        let portmapSets = ["hostport_map", "hostip_hostport_map", "masquerade_pairs", "masquerade_to"]
        let portmapChains = ["hostports", "hostip_hostports", "masquerading"]
        return [
            Layout(family: .ip, table: "cni_hostport", sets: portmapSets, chains: portmapChains, byContainerID: true),
            Layout(family: .ip6, table: "cni_hostport", sets: portmapSets, chains: portmapChains, byContainerID: true),
            Layout(
                family: .inet, table: "cni_plugins_masquerade", sets: ["masq_sources_v4", "masq_sources_v6"],
                chains: ["masq_checks"], byContainerID: false),
            Layout(
                family: .inet, table: "cni_plugins_firewall", sets: ["pod_addresses_v4", "pod_addresses_v6"],
                chains: ["CNI-FORWARD"], byContainerID: false),
        ]
    }()

    var findings: [DoctorCommand.Finding] = []

    init(live: Attachments) {
        guard let client = try? NFTClient() else { return }
        let owners = Set(live.entries.map { AttachmentTag.portmapOwner($0.containerID) })
        let tags = Set(
            live.entries.map {
                AttachmentTag(network: $0.network, ifname: $0.ifname, containerID: $0.containerID).prefix
            })
        for layout in Self.layouts {
            func leaked(_ comment: String?) -> Bool {
                guard let comment else { return false }
                if layout.byContainerID { return !owners.contains(comment) }
                // Only tagged comments are an attachment's (the admin jump and fixed rules are not).
                guard Self.isTag(comment) else { return false }
                return !tags.contains(String(comment.prefix(33)))
            }
            for set in layout.sets {
                for element in (try? client.elements(family: layout.family, table: layout.table, set: set)) ?? []
                where leaked(element.comment) {
                    findings.append(
                        .init(text: "\(layout.name) element of \(set) owned by \"\(element.comment ?? "")\"") {
                            try Self.apply(layout) { $0.add(.deleteElements(set: set, [element])) }
                        })
                }
            }
            for chain in layout.chains {
                for rule in (try? client.rules(family: layout.family, table: layout.table, chain: chain)) ?? []
                where leaked(rule.comment) {
                    guard let handle = rule.handle else { continue }
                    findings.append(
                        .init(text: "\(layout.name) rule in \(chain) owned by \"\(rule.comment ?? "")\"") {
                            try Self.apply(layout) { $0.add(.deleteRule(chain: chain, handle: handle)) }
                        })
                }
            }
        }
    }

    /// `<16 hex>-<16 hex>, ...`: an `AttachmentTag` comment.
    static func isTag(_ comment: String) -> Bool {
        let bytes = Array(comment.utf8)
        guard bytes.count >= 33, bytes[16] == UInt8(ascii: "-") else { return false }
        return (bytes[0..<16] + bytes[17..<33]).allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// One batch in `layout`'s table, holding the plugins' netfilter lock.
    static func apply(_ layout: Layout, _ fill: (inout NFTTransaction) -> Void) throws {
        var tx = NFTTransaction(family: layout.family, table: layout.table)
        fill(&tx)
        try NetfilterLock.holding(.live) { try run(tx) }
    }

    private static func run(_ tx: NFTTransaction) throws(NetlinkError) {
        do { try NFTClient().run(tx) } catch {
            // Gone already (another fix, or the owner's late DEL): what was asked for is true.
            if error.errno != .noSuchFileOrDirectory { throw error }
        }
    }
}
