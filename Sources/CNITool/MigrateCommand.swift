import CNISkeleton
import Netfilter
import PluginSupport

/// `cni migrate [--dry-run]`: moves a node's live attachments from the Go reference plugins'
/// iptables rules to ours, ours first, so that no packet of a running pod goes un-NATed.
public enum MigrateCommand {
    public static let help = """
        usage: cni migrate [--dry-run]

        For every attachment in the result cache (CNI_CACHE_DIR, default /var/lib/cni) whose
        netns exists, puts our nftables state in place (as `cni reload` does: masquerading,
        portmap, firewall) and then deletes what the Go reference plugins made for it with
        iptables (iptables-nft): its masquerade chain CNI-<hash> and the POSTROUTING jump to it,
        its CNI-DN-<hash> chain and the CNI-HOSTPORT-DNAT jump to it, and its addresses' rules in
        CNI-FORWARD. Both sets of rules NAT alike while they overlap. The reference's shared
        chains (CNI-HOSTPORT-*, CNI-ADMIN, the FORWARD jump) are left. With --dry-run, only the
        plan is printed. Install our plugins in CNI_PATH (and on the node) first.

        examples:
          cni migrate --dry-run
          CNI_PATH=/opt/cni/bin cni migrate

        """

    public static func run(_ arguments: [String], environment: [String: String]) -> (String, Int32) {
        guard arguments.allSatisfy({ $0 == "--dry-run" }) else { return (help, 2) }
        let dryRun = arguments.contains("--dry-run")
        return EachAttachment.run(environment, done: dryRun ? "planned" : "migrated") { entry, env in
            let plan = try ReferenceRules(entry)
            if dryRun {
                return "would put ours in place, then delete:" + plan.descriptions.map { "\n  \($0)" }.joined()
            }
            let ours = try ReloadCommand.reload(entry, env)
            // The reference's rules go only once ours do what they did.
            guard !ours.isEmpty || plan.descriptions.isEmpty else {
                throw CNIError(.internalError, "nothing of ours could be put in place; the reference's rules stay")
            }
            try plan.apply()
            let what = ours.isEmpty ? "nothing of ours needed" : "ours in place (\(ours.joined(separator: ", ")))"
            return "\(what); deleted \(plan.descriptions.count) of the reference's"
        }
    }
}

/// What the reference's iptables plugins made for one attachment, in its iptables-nft tables.
struct ReferenceRules {
    /// One batch per table, and a line per change for the plan.
    var batches: [NFTTransaction] = []
    var descriptions: [String] = []

    init(_ entry: CachedAttachment) throws {
        // The reference names an attachment's chains after sha512(network + containerID).
        let hash = SHA512.hexPrefix(entry.network + entry.containerID, length: 24)
        let masquerade = "CNI-" + hash, dnat = "CNI-DN-" + String(hash.prefix(21))
        let addresses: [IPAddress] = {
            guard case .array(let ips)? = entry.result?.objectValue?["ips"] else { return [] }
            return ips.compactMap { $0.objectValue?["address"]?.stringValue.flatMap(IPPrefix.init)?.address }
        }()
        let client = try NFTClient()
        for family in [NFTFamily.ip, .ip6] {
            let mine = addresses.filter { ($0.isV4 ? NFTFamily.ip : .ip6) == family }
            var nat = NFTTransaction(family: family, table: "nat")
            for (parent, chain) in [("POSTROUTING", masquerade), ("CNI-HOSTPORT-DNAT", dnat)] {
                for rule in try client.rules(family: family, table: "nat", chain: parent, interfaces: true)
                where rule.portMatch?.jumpTarget == chain {
                    if let handle = rule.handle { nat.add(.deleteRule(chain: parent, handle: handle)) }
                    descriptions.append("\(family) nat \(parent): the jump to \(chain)")
                }
                if try client.hasChain(family: family, table: "nat", chain: chain) {
                    nat.add(.flushChain(chain))
                    nat.add(.deleteChain(chain))
                    descriptions.append("\(family) nat chain \(chain)")
                }
            }
            var filter = NFTTransaction(family: family, table: "filter")
            for rule in try client.rules(family: family, table: "filter", chain: "CNI-FORWARD", interfaces: true) {
                guard let match = rule.portMatch, match.jumpTarget == nil,
                    let address = match.source ?? match.destination, mine.contains(address), let handle = rule.handle
                else { continue }
                filter.add(.deleteRule(chain: "CNI-FORWARD", handle: handle))
                descriptions.append("\(family) filter CNI-FORWARD: the rule for \(address)")
            }
            batches += [nat, filter].filter { !$0.operations.isEmpty }
        }
    }

    func apply() throws {
        let client = try NFTClient()
        for batch in batches { try client.run(batch) }
    }
}
