import CNISkeleton
import Netfilter
import PluginSupport

/// The firewall plugin's nftables layout: the reference's iptables chains, in one
/// `inet cni_plugins_firewall` table.
///
/// ```
/// forward (filter hook forward priority 0): jump CNI-ISOLATION-STAGE-1; jump CNI-FORWARD
/// CNI-FORWARD: jump <admin chain> (once per admin chain name, first)
///              ip daddr @pod_addresses_v4 ct state established,related accept
///              ip saddr @pod_addresses_v4 accept           (and the same for ip6)
/// CNI-ISOLATION-STAGE-1: iifname <br> oifname != <br> jump CNI-ISOLATION-STAGE-2
///                        iifname <br> oifname <br> drop              (isolated only)
/// CNI-ISOLATION-STAGE-2: oifname <br> drop
/// ```
/// The admin chain belongs to the operator: it is created empty and never changed.
/// A pod's addresses are elements of the two sets, commented with the attachment's
/// `AttachmentTag`, so a packet costs one lookup and GC finds what attachments that are gone
/// left. Before the sets, each address had its two rules in CNI-FORWARD with that comment:
/// DEL and GC still remove those, so a node moves to the sets with pods running.
enum FirewallRules {
    static let table = "cni_plugins_firewall"
    static let forward = "forward"
    static let filterChain = "CNI-FORWARD"
    static let stage1 = "CNI-ISOLATION-STAGE-1"
    static let stage2 = "CNI-ISOLATION-STAGE-2"
    static let forwardComment = "CNI firewall plugin rules"
    static let isolationComment = "CNI firewall plugin rules (ingressPolicy: same-bridge|isolated)"
    static let addressesComment = "CNI firewall plugin rules (pod addresses)"
    static let addresses = AddressSets(table: table, v4: "pod_addresses_v4", v6: "pod_addresses_v6")

    static func adminComment(_ chain: String) -> String { "CNI firewall plugin admin overrides: \(chain)" }

    /// The comment of a per-bridge isolation rule; the bridge name comes last so GC can read it.
    static func bridgeComment(_ policy: IngressPolicy, bridge: String) -> String {
        "CNI firewall plugin rules (ingressPolicy: \(policy.rawValue)) bridge: \(bridge)"
    }

    /// The sets and the four rules that let their addresses through the forward hook.
    static func addAddressSets(_ tx: inout NFTTransaction) {
        for v4 in [true, false] {
            let set = v4 ? addresses.v4 : addresses.v6
            tx.add(.addSet(NFTSet(name: set, key: [v4 ? .ipv4Address : .ipv6Address])))
            let rules: [[NFTStatement]] = [
                [.member([.address(.destination, v4: v4)], set: set), .establishedOrRelated, .accept],
                [.member([.address(.source, v4: v4)], set: set), .accept],
            ]
            for statements in rules {
                tx.add(.addRule(NFTRule(chain: filterChain, statements: statements, comment: addressesComment)))
            }
        }
    }

    /// The rules an ingress policy adds for `bridge`.
    static func isolationRules(_ policy: IngressPolicy, bridge: String) -> [NFTRule] {
        guard policy != .open else { return [] }
        let sameBridge = bridgeComment(.sameBridge, bridge: bridge)
        var rules = [
            NFTRule(
                chain: stage1,
                statements: [.inputInterface(bridge), .outputInterface(bridge, equal: false), .jump(stage2)],
                comment: sameBridge),
            NFTRule(chain: stage2, statements: [.outputInterface(bridge, equal: true), .drop], comment: sameBridge),
        ]
        if policy == .isolated {
            rules.append(
                NFTRule(
                    chain: stage1, statements: [.inputInterface(bridge), .outputInterface(bridge, equal: true), .drop],
                    comment: bridgeComment(.isolated, bridge: bridge)))
        }
        return rules
    }

    /// What is in the table now, as far as ADD needs to know.
    struct Current {
        var filter: [NFTRule] = []
        var stage1: [NFTRule] = []
        var stage2: [NFTRule] = []
        /// The table, its chains and the forward chain's two jumps are all there.
        var intact = false
        /// The table exists.
        var exists = false
        /// CNI-FORWARD lets the sets' addresses through.
        var hasAddressSets: Bool { filter.filter { $0.comment == FirewallRules.addressesComment }.count == 4 }

        init(_ client: NFTClient) throws {
            let filter = try client.existingRules(family: .inet, table: table, chain: filterChain)
            let stage1 = try client.existingRules(family: .inet, table: table, chain: FirewallRules.stage1)
            let stage2 = try client.existingRules(family: .inet, table: table, chain: FirewallRules.stage2)
            (self.filter, self.stage1, self.stage2) = (filter ?? [], stage1 ?? [], stage2 ?? [])
            exists = filter != nil
            guard filter != nil, stage1 != nil, stage2 != nil else { return }
            let jumps = try client.existingRules(family: .inet, table: table, chain: forward)?.map(\.comment)
            intact = jumps == [isolationComment, forwardComment]
        }
    }

    /// One batch that sets up the table, the admin jump, the isolation rules of the
    /// bridge, and this attachment's addresses (replacing any rules it had before).
    static func setup(
        _ conf: FirewallConfig, addresses: [IPAddress], bridge: String?, tag: AttachmentTag, current: Current,
        client: NFTClient
    ) throws -> NFTTransaction {
        var tx = NFTTransaction(family: .inet, table: table)
        // Re-adding the base chain and flushing it would make the socket's close wait for an
        // RCU grace period (about 10 ms per ADD), so the fixed structure is made only when it
        // is not intact.
        if !current.intact {
            tx.add(.addTable(NFTTable(family: .inet, name: table, comment: "CNI firewall plugin")))
            tx.add(
                .addChain(
                    NFTChain(
                        name: forward, base: .init(type: .filter, hook: .forward, priority: .filter, policy: .accept))))
            for chain in [filterChain, stage1, stage2] { tx.add(.addChain(NFTChain(name: chain))) }
            tx.add(.flushChain(forward))
            tx.add(.addRule(NFTRule(chain: forward, statements: [.jump(stage1)], comment: isolationComment)))
            tx.add(.addRule(NFTRule(chain: forward, statements: [.jump(filterChain)], comment: forwardComment)))
        }
        // A concurrent first ADD may have inserted the same jump: keep exactly one.
        let adminJumps = current.filter.filter { $0.comment == adminComment(conf.adminChain) }
        if adminJumps.isEmpty {
            tx.add(.addChain(NFTChain(name: conf.adminChain)))
            tx.add(
                .insertRule(
                    NFTRule(
                        chain: filterChain, statements: [.jump(conf.adminChain)], comment: adminComment(conf.adminChain)
                    )))
        }
        for extra in adminJumps.dropFirst() { delete(extra, &tx) }
        if !current.hasAddressSets {
            // Some of the four rules were deleted: all of them go, and come back once each.
            for partial in current.filter where partial.comment == addressesComment { delete(partial, &tx) }
            addAddressSets(&tx)
        }
        let own = tag.prefix
        for stale in current.filter where stale.comment?.hasPrefix(own) == true { delete(stale, &tx) }
        for address in addresses {
            try FirewallRules.addresses.claim(
                address, comment: tag.comment, client: client, fresh: !current.exists, into: &tx)
        }
        if let bridge {
            let present = Set((current.stage1 + current.stage2).map { "\($0.chain)/\($0.comment ?? "")" })
            for rule in isolationRules(conf.ingressPolicy, bridge: bridge)
            where !present.contains("\(rule.chain)/\(rule.comment ?? "")") {
                tx.add(.addRule(rule))
            }
        }
        return tx
    }

    static func delete(_ rule: NFTRule, _ tx: inout NFTTransaction) {
        if let handle = rule.handle { tx.add(.deleteRule(chain: rule.chain, handle: handle)) }
    }

    /// The bridge named by an isolation rule's comment.
    static func bridge(inComment comment: String) -> String? {
        // Interface names hold no whitespace, so the name is the last word.
        guard comment.hasPrefix("CNI firewall plugin rules (ingressPolicy: "),
            let last = comment.split(separator: " ").last
        else { return nil }
        let name = String(last)
        return comment.hasSuffix(") bridge: " + name) ? name : nil
    }
}
