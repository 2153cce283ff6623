import CNISkeleton
import Netfilter
import Netlink

/// `ipMasq` for bridge and ptp, with the table, chain and comment layout of the reference's
/// nftables backend (`inet cni_plugins_masquerade`), so either implementation can clean up
/// after the other. One atomic batch per call.
///
/// Beyond the reference: all addresses of an attachment are set up in one batch (the
/// reference's per-address calls delete each other's rule on dual-stack), teardown needs no
/// addresses or netns, and GC removes rules of attachments that are gone.
public enum Masquerade {
    public static let table = "cni_plugins_masquerade"
    public static let chain = "masq_checks"
    static let tableComment = "Masquerading for plugins from github.com/containernetworking/plugins"
    static let chainComment = "Masquerade traffic from certain IPs to any (non-multicast) IP outside their subnet"
    /// The batch that sets up masquerading for `addresses`, replacing `stale` rules. Traffic
    /// to `exempt` destinations (a cluster's pod CIDR, say) keeps the pod's own address.
    /// `withStructure` (re)creates the table and chains first; see ``setup(_:network:ifname:containerID:exempt:)``.
    public static func setupTransaction(
        _ addresses: [IPPrefix], network: String, ifname: String, containerID: String,
        stale: [NFTRule], exempt: [IPPrefix] = [], withStructure: Bool = true
    ) -> NFTTransaction {
        var tx = NFTTransaction(family: .inet, table: table)
        if withStructure { addStructure(&tx) }
        for rule in stale { if let handle = rule.handle { tx.add(.deleteRule(chain: chain, handle: handle)) } }
        addRules(
            &tx, addresses, note: AttachmentTag(network: network, ifname: ifname, containerID: containerID).comment,
            exempt: exempt)
        return tx
    }

    /// The table, the per-address chain and the postrouting base chain with its three rules.
    static func addStructure(_ tx: inout NFTTransaction) {
        tx.add(.addTable(NFTTable(family: .inet, name: table, comment: tableComment)))
        tx.add(.addChain(NFTChain(name: chain, comment: chainComment)))
        tx.add(.addChain(NFTChain(name: "postrouting", base: .init(type: .nat, hook: .postrouting, priority: .srcnat))))
        tx.add(.flushChain("postrouting"))
        tx.add(
            .addRule(
                NFTRule(
                    chain: "postrouting",
                    statements: [
                        .address(.destination, equal: true, IPPrefix(address: .v4(0xe000_0000), prefixLength: 4)),
                        .return,
                    ])))
        tx.add(
            .addRule(
                NFTRule(
                    chain: "postrouting",
                    statements: [
                        .address(.destination, equal: true, IPPrefix(address: .v6(0xff << 120), prefixLength: 8)),
                        .return,
                    ])))
        tx.add(.addRule(NFTRule(chain: "postrouting", statements: [.goto(chain)])))
    }

    /// An attachment's rules: per address, the exemptions (evaluated first, as they come first
    /// in the chain), then the masquerade rule for everything outside the address's subnet.
    static func addRules(_ tx: inout NFTTransaction, _ addresses: [IPPrefix], note: String, exempt: [IPPrefix]) {
        for prefix in addresses {
            let from = NFTStatement.address(.source, equal: true, prefix.address.hostPrefix)
            func rule(to destination: IPPrefix, equal: Bool, _ verdict: NFTStatement) -> NFTOperation {
                let to = NFTStatement.address(.destination, equal: equal, destination.masked)
                return .addRule(NFTRule(chain: chain, statements: [from, to, verdict], comment: note))
            }
            for destination in exempt where destination.address.isV4 == prefix.address.isV4 {
                tx.add(rule(to: destination, equal: true, .return))
            }
            tx.add(rule(to: prefix, equal: false, .masquerade))
        }
    }

    /// Installs the rules for one attachment.
    public static func setup(
        _ addresses: [IPPrefix], network: String, ifname: String, containerID: String,
        exempt: [IPPrefix] = [], kernel: KernelContext = .live
    ) throws {
        let client = try kernel.netfilter()
        let prefix = AttachmentTag(network: network, ifname: ifname, containerID: containerID).prefix
        let checks = try client.existingRules(family: .inet, table: table, chain: chain)
        let stale = (checks ?? []).filter { $0.comment?.hasPrefix(prefix) == true }
        // The fixed structure is created only when it is missing or not intact: re-adding an
        // existing base chain or flushing one makes the kernel free objects after an RCU grace
        // period, and closing the socket then waits for it (about 10 ms on every ADD).
        let postrouting =
            checks == nil ? nil : try client.existingRules(family: .inet, table: table, chain: "postrouting")
        try client.run(
            setupTransaction(
                addresses, network: network, ifname: ifname, containerID: containerID, stale: stale, exempt: exempt,
                withStructure: postrouting?.count != 3))
    }

    /// Removes the rules of one attachment; nothing to remove is fine.
    public static func teardown(network: String, ifname: String, containerID: String, kernel: KernelContext = .live)
        throws
    {
        let prefix = AttachmentTag(network: network, ifname: ifname, containerID: containerID).prefix
        try delete(kernel, matching: { $0.hasPrefix(prefix) })
    }

    /// True when the attachment's rules are present (for CHECK).
    public static func present(
        network: String, ifname: String, containerID: String, kernel: KernelContext = .live
    ) throws -> Bool {
        let prefix = AttachmentTag(network: network, ifname: ifname, containerID: containerID).prefix
        return try kernel.netfilter().rules(family: .inet, table: table, chain: chain).contains {
            $0.comment?.hasPrefix(prefix) == true
        }
    }

    /// Removes the rules of `network` whose attachment is not in `keep`.
    public static func collect(network: String, keep: [NetworkConfig.Attachment], kernel: KernelContext = .live)
        throws
    {
        try delete(kernel, matching: AttachmentTag.staleMatcher(network: network, keep: keep))
    }

    private static func delete(_ kernel: KernelContext, matching: (String) -> Bool) throws {
        try kernel.netfilter().deleteRules(family: .inet, table: table, chains: [chain]) {
            $0.comment.map(matching) ?? false
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
