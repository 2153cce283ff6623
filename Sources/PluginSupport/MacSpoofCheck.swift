import CNISkeleton
import Netfilter
import Netlink

/// The bridge plugin's `macspoofchk`: frames entering the bridge from the host veth must carry
/// the container's MAC. Same objects and comments as the reference (table `bridge nat`, base
/// chain `PREROUTING`, per-attachment chains `cni-br-iface-<id>` and `...-mac`, comment
/// `macspoofchk-<id>`, with `<id>` = `<containerID>-<ifname>`).
public enum MacSpoofCheck {
    static let table = "nat"
    static let baseChain = "PREROUTING"

    static func id(containerID: String, ifname: String) -> String { "\(containerID)-\(ifname)" }
    static func ifaceChain(_ id: String) -> String { "cni-br-iface-\(id)" }
    static func macChain(_ id: String) -> String { "cni-br-iface-\(id)-mac" }
    static func comment(_ id: String) -> String { "macspoofchk-\(id)" }

    /// The batch that installs the check for one attachment.
    public static func setupTransaction(hostInterface: String, mac: MACAddress, containerID: String, ifname: String)
        -> NFTTransaction
    {
        let id = id(containerID: containerID, ifname: ifname)
        let note = comment(id)
        var tx = NFTTransaction(family: .bridge, table: table)
        tx.add(.addTable(NFTTable(family: .bridge, name: table)))
        tx.add(
            .addChain(
                NFTChain(
                    name: baseChain, base: .init(type: .filter, hook: .prerouting, priority: .raw, policy: .accept))))
        tx.add(.addChain(NFTChain(name: ifaceChain(id))))
        tx.add(.addChain(NFTChain(name: macChain(id))))
        tx.add(.flushChain(ifaceChain(id)))
        tx.add(.flushChain(macChain(id)))
        tx.add(
            .addRule(
                NFTRule(
                    chain: baseChain, statements: [.inputInterface(hostInterface), .jump(ifaceChain(id))], comment: note
                )))
        tx.add(.addRule(NFTRule(chain: ifaceChain(id), statements: [.jump(macChain(id))], comment: note)))
        tx.add(
            .addRule(
                NFTRule(chain: macChain(id), statements: [.etherSource(equal: true, mac), .return], comment: note)))
        tx.add(.addRule(NFTRule(chain: macChain(id), statements: [.drop], comment: note)))
        return tx
    }

    public static func setup(
        hostInterface: String, mac: MACAddress, containerID: String, ifname: String, kernel: KernelContext = .live
    ) throws {
        try kernel.netfilter().run(
            setupTransaction(hostInterface: hostInterface, mac: mac, containerID: containerID, ifname: ifname))
    }

    /// Removes the checks whose host interface no longer exists (the pod and its veth are
    /// gone without a DEL); the reference never removes them. Returns how many it removed.
    @discardableResult
    public static func collect(existingInterfaces: Set<String>, kernel: KernelContext = .live) throws -> Int {
        let client = try kernel.netfilter()
        guard try client.hasTable(family: .bridge, table: table) else { return 0 }
        var tx = NFTTransaction(family: .bridge, table: table)
        var removed = 0
        for rule in try client.rules(family: .bridge, table: table, chain: baseChain, interfaces: true) {
            guard let note = rule.comment, note.hasPrefix("macspoofchk-"), let name = rule.inputInterface,
                !existingInterfaces.contains(name), let handle = rule.handle
            else { continue }
            let id = String(note.dropFirst("macspoofchk-".count))
            tx.add(.deleteRule(chain: baseChain, handle: handle))
            try deleteChains(id, client, &tx)
            removed += 1
        }
        try client.run(tx)
        return removed
    }

    /// Removes the attachment's rule and chains; missing pieces are fine.
    /// A concurrent DEL of the same attachment may remove some of it between our listing and
    /// our batch (which then fails whole with `ENOENT`): list again and retry.
    public static func teardown(containerID: String, ifname: String, kernel: KernelContext = .live) throws {
        let id = id(containerID: containerID, ifname: ifname)
        let client = try kernel.netfilter()
        for attempt in 0..<6 {
            guard try client.hasTable(family: .bridge, table: table) else { return }
            var tx = NFTTransaction(family: .bridge, table: table)
            for rule in try client.rules(family: .bridge, table: table, chain: baseChain)
            where rule.comment == comment(id) {
                if let handle = rule.handle { tx.add(.deleteRule(chain: baseChain, handle: handle)) }
            }
            try deleteChains(id, client, &tx)
            guard !tx.operations.isEmpty else { return }
            do {
                try client.run(tx)
                return
            } catch {
                guard error.errno == .noSuchFileOrDirectory, attempt < 5 else { throw error }
            }
        }
    }

    /// Deletes the attachment's two chains, those that exist (a chain with rules exists).
    private static func deleteChains(_ id: String, _ client: NFTClient, _ tx: inout NFTTransaction) throws {
        for chain in [ifaceChain(id), macChain(id)]
        where try !client.rules(family: .bridge, table: table, chain: chain).isEmpty {
            tx.add(.deleteChain(chain))
        }
    }
}
