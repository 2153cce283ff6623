import CNISkeleton
import Netfilter
import Netlink

/// `ipMasq` for bridge and ptp, in `inet cni_plugins_masquerade`: one verdict map per family
/// sends a pod's source address to the chain of its subnet, so a packet costs one lookup and
/// an ADD or DEL a fixed number of messages however many pods there are:
///
/// ```
/// postrouting (nat, srcnat): ip daddr 224.0.0.0/4 return; ip6 daddr ff00::/8 return
///                            ip saddr vmap @masq_sources_v4; ip6 saddr vmap @masq_sources_v6
///                            goto masq_checks
/// masq_<hash> (one per subnet and exemptions): ip daddr <exempt> return ...
///                                              ip daddr != <subnet> masquerade
/// ```
///
/// Elements carry the attachment's `AttachmentTag`. `masq_checks` is the reference's nftables
/// backend's chain (one rule per address; ours before the maps): DEL and GC still remove an
/// attachment's rules there, so a node moves to the maps with pods running.
///
/// Beyond the reference: all addresses of an attachment are set up in one batch (the
/// reference's per-address calls delete each other's rule on dual-stack), teardown needs no
/// netns, and GC removes what attachments that are gone left.
public enum Masquerade {
    public static let table = "cni_plugins_masquerade"
    public static let chain = "masq_checks"
    static let tableComment = "Masquerading for plugins from github.com/containernetworking/plugins"
    static let chainComment = "Masquerade traffic from certain IPs to any (non-multicast) IP outside their subnet"

    /// The verdict map of a family's source addresses.
    static func sources(v4: Bool) -> String { v4 ? sourceMaps.v4 : sourceMaps.v6 }
    static let sourceMaps = AddressSets(table: table, v4: "masq_sources_v4", v6: "masq_sources_v6")

    /// Installs masquerading for one attachment's addresses, replacing what it had. Traffic to
    /// `exempt` destinations (a cluster's pod CIDR, say) keeps the pod's own address.
    public static func setup(
        _ addresses: [IPPrefix], network: String, ifname: String, containerID: String,
        exempt: [IPPrefix] = [], kernel: KernelContext = .live
    ) throws {
        let client = try kernel.netfilter()
        let tag = AttachmentTag(network: network, ifname: ifname, containerID: containerID)
        try NetfilterLock.holding(kernel) {
            try client.run(planSetup(addresses, tag: tag, exempt: exempt, client: client))
        }
    }

    /// The batch that makes `addresses` masqueraded for `tag`.
    static func planSetup(_ addresses: [IPPrefix], tag: AttachmentTag, exempt: [IPPrefix], client: NFTClient) throws
        -> NFTTransaction
    {
        var tx = NFTTransaction(family: .inet, table: table)
        // The fixed structure is created only when it is missing or not intact: re-adding an
        // existing base chain or flushing one makes the kernel free objects after an RCU grace
        // period, and closing the socket then waits for it (about 10 ms on every ADD).
        let postrouting = try client.existingRules(family: .inet, table: table, chain: "postrouting")
        if postrouting?.count != 5 { addStructure(&tx) }
        var chains = Set<String>()
        for prefix in addresses {
            let subnet = SubnetChain(prefix, exempt: exempt)
            if chains.insert(subnet.name).inserted { try subnet.ensure(client, &tx, fresh: postrouting == nil) }
            try sourceMaps.claim(
                prefix.address, value: .goto(subnet.name), comment: tag.comment, client: client,
                fresh: postrouting == nil, into: &tx)
        }
        return tx
    }

    /// The table, the reference's chain and the postrouting base chain with its five rules.
    static func addStructure(_ tx: inout NFTTransaction) {
        tx.add(.addTable(NFTTable(family: .inet, name: table, comment: tableComment)))
        tx.add(.addChain(NFTChain(name: chain, comment: chainComment)))
        for v4 in [true, false] {
            tx.add(.addSet(NFTSet(name: sources(v4: v4), key: [v4 ? .ipv4Address : .ipv6Address], data: [.verdict])))
        }
        tx.add(.addChain(NFTChain(name: "postrouting", base: .init(type: .nat, hook: .postrouting, priority: .srcnat))))
        tx.add(.flushChain("postrouting"))
        let multicast = [
            IPPrefix(address: .v4(0xe000_0000), prefixLength: 4), IPPrefix(address: .v6(0xff << 120), prefixLength: 8),
        ]
        for group in multicast {
            tx.add(
                .addRule(
                    NFTRule(chain: "postrouting", statements: [.address(.destination, equal: true, group), .return])))
        }
        for v4 in [true, false] {
            tx.add(
                .addRule(
                    NFTRule(
                        chain: "postrouting",
                        statements: [.verdictMap([.address(.source, v4: v4)], map: sources(v4: v4))])))
        }
        tx.add(.addRule(NFTRule(chain: "postrouting", statements: [.goto(chain)])))
    }

    /// Removes one attachment's masquerading; nothing to remove is fine. With `addresses`
    /// (from prevResult) its elements are looked up by key; without, the maps are listed.
    public static func teardown(
        network: String, ifname: String, containerID: String, addresses: [IPAddress]? = nil,
        kernel: KernelContext = .live
    ) throws {
        let prefix = AttachmentTag(network: network, ifname: ifname, containerID: containerID).prefix
        try delete(kernel, addresses: addresses, matching: { $0.hasPrefix(prefix) })
    }

    /// True when the attachment's masquerading is in place (for CHECK): an element for each
    /// of `addresses`, or the reference layout's rules.
    public static func present(
        network: String, ifname: String, containerID: String, addresses: [IPAddress], kernel: KernelContext = .live
    ) throws -> Bool {
        let prefix = AttachmentTag(network: network, ifname: ifname, containerID: containerID).prefix
        let client = try kernel.netfilter()
        let own = { (comment: String) in comment.hasPrefix(prefix) }
        return try sourceMaps.hold(addresses, matching: own, client: client)
            || client.rules(family: .inet, table: table, chain: chain).contains { $0.comment.map(own) ?? false }
    }

    /// Removes what attachments of `network` not in `keep` left.
    public static func collect(network: String, keep: [NetworkConfig.Attachment], kernel: KernelContext = .live)
        throws
    {
        try delete(kernel, addresses: nil, matching: AttachmentTag.staleMatcher(network: network, keep: keep))
    }

    /// One batch that deletes the matching elements (looked up by `addresses`, or listed) and
    /// the reference layout's matching rules.
    private static func delete(_ kernel: KernelContext, addresses: [IPAddress]?, matching: (String) -> Bool) throws {
        let client = try kernel.netfilter()
        guard try client.hasTable(family: .inet, table: table) else { return }
        try NetfilterLock.holding(kernel) {
            try client.run {
                var tx = NFTTransaction(family: .inet, table: table)
                try sourceMaps.release(addresses: addresses, matching: matching, client: client, into: &tx)
                for rule in try client.rules(family: .inet, table: table, chain: chain)
                where rule.comment.map(matching) ?? false {
                    if let handle = rule.handle { tx.add(.deleteRule(chain: chain, handle: handle)) }
                }
                return tx
            }
        }
    }
}

extension Masquerade {
    /// `nonMasqueradeCIDRs` (our extension, named after Kubernetes' ip-masq-agent key): the
    /// destinations that masquerading leaves alone, so pods keep their own address toward the
    /// rest of the cluster while traffic leaving it is masqueraded. Error 7 naming the key.
    public static func exemptions(_ config: NetworkConfig) throws(CNIError) -> [IPPrefix] {
        let texts: [String]
        do { texts = try config.fields.stringArray("nonMasqueradeCIDRs") ?? [] } catch {
            throw .invalidConfig(error.message, details: "key: nonMasqueradeCIDRs")
        }
        var out: [IPPrefix] = []
        for text in texts {
            guard let prefix = IPPrefix(text) else {
                throw .invalidConfig(
                    "invalid CIDR \"\(text)\" in nonMasqueradeCIDRs", details: "key: nonMasqueradeCIDRs")
            }
            out.append(prefix)
        }
        return out
    }
}
