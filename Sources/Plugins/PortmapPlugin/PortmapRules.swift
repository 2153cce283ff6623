import CNISkeleton
import Netfilter

/// The nftables layout of the reference's portmap backend: table `cni_hostport` per family,
/// DNAT rules in `hostports`, hairpin/localhost masquerade in `masquerading`, every rule
/// commented with the container ID so DEL finds exactly its own.
enum PortmapRules {
    static let table = "cni_hostport"
    static let chains = ["hostports", "hostip_hostports", "masquerading"]

    static func family(_ ip: IPAddress) -> NFTFamily { ip.isV4 ? .ip : .ip6 }

    /// What one family's table holds now: every chain's rules, nil for a chain that is missing.
    struct State {
        var byChain: [String: [NFTRule]?] = [:]

        init(_ client: NFTClient, family: NFTFamily) throws {
            for chain in PortmapRules.chains + ["hostports_all", "prerouting", "output"] {
                byChain[chain] = try client.existingRules(family: family, table: PortmapRules.table, chain: chain)
            }
        }

        /// This container's rules.
        func rules(of containerID: String) -> [NFTRule] {
            PortmapRules.chains.flatMap { (byChain[$0] ?? nil) ?? [] }.filter { $0.comment == containerID }
        }

        /// Whether the shared chains exist with their fixed rules, so ADD need not touch them.
        func intact(snat: Bool) -> Bool {
            func count(_ chain: String) -> Int? { (byChain[chain] ?? nil)?.count }
            return count("hostports") != nil && count("hostip_hostports") != nil && count("hostports_all") == 2
                && count("prerouting") == 1 && count("output") == 1 && (!snat || count("masquerading") != nil)
        }
    }

    /// The batch for one container address: the shared structure when `withStructure` (the
    /// reference re-asserts it every time; re-adding base chains and flushing makes the
    /// socket's close wait for an RCU grace period, so we do it only when it is not intact),
    /// this container's previous rules removed, its new rules added.
    static func transaction(
        for container: IPAddress, _ conf: PortmapConfig, containerID: String, stale: [NFTRule],
        withStructure: Bool = true
    ) -> NFTTransaction {
        var tx = NFTTransaction(family: family(container), table: table)
        if withStructure { addStructure(&tx, family: family(container), snat: conf.snat) }
        for rule in stale { if let handle = rule.handle { tx.add(.deleteRule(chain: rule.chain, handle: handle)) } }
        addMappings(&tx, container, conf, containerID: containerID)
        return tx
    }

    static func addStructure(_ tx: inout NFTTransaction, family: NFTFamily, snat: Bool) {
        tx.add(.addTable(NFTTable(family: family, name: table, comment: "CNI portmap plugin")))
        for name in ["hostports", "hostip_hostports", "hostports_all"] { tx.add(.addChain(NFTChain(name: name))) }
        tx.add(.flushChain("hostports_all"))
        tx.add(.addRule(NFTRule(chain: "hostports_all", statements: [.jump("hostip_hostports")])))
        tx.add(.addRule(NFTRule(chain: "hostports_all", statements: [.jump("hostports")])))
        for (name, hook) in [("prerouting", NFTHook.prerouting), ("output", .output)] {
            tx.add(.addChain(NFTChain(name: name, base: .init(type: .nat, hook: hook, priority: .dstnat))))
            tx.add(.flushChain(name))
            tx.add(.addRule(NFTRule(chain: name, statements: [.destinationIsLocal, .jump("hostports_all")])))
        }
        if snat {
            tx.add(
                .addChain(
                    NFTChain(name: "masquerading", base: .init(type: .nat, hook: .postrouting, priority: .srcnat))))
        }
    }

    /// The container's DNAT rules and, with `snat`, its hairpin and localhost masquerading.
    static func addMappings(
        _ tx: inout NFTTransaction, _ container: IPAddress, _ conf: PortmapConfig, containerID: String
    ) {
        let containerHost = container.hostPrefix
        for mapping in conf.mappings {
            var statements: [NFTStatement] = []
            if let hostIP = mapping.hostIP {
                guard hostIP.isV4 == container.isV4 else { continue }  // other family's mapping
                if !hostIP.isUnspecified {
                    statements.append(.address(.destination, equal: true, hostIP.hostPrefix))
                }
            }
            statements += [
                .destinationPort(protocolNumber: mapping.protocolNumber, port: mapping.hostPort),
                .dnat(address: container, port: mapping.containerPort),
            ]
            tx.add(.addRule(NFTRule(chain: "hostports", statements: statements, comment: containerID)))
        }
        if conf.snat {
            let to = NFTStatement.address(.destination, equal: true, containerHost)
            if conf.masqAll {
                tx.add(.addRule(NFTRule(chain: "masquerading", statements: [to, .masquerade], comment: containerID)))
            } else {
                let hairpin = NFTStatement.address(.source, equal: true, containerHost)
                tx.add(
                    .addRule(
                        NFTRule(chain: "masquerading", statements: [hairpin, to, .masquerade], comment: containerID)))
                if container.isV4 {
                    let localhost = NFTStatement.address(.source, equal: true, IPAddress.v4(0x7f00_0001).hostPrefix)
                    tx.add(
                        .addRule(
                            NFTRule(
                                chain: "masquerading", statements: [localhost, to, .masquerade], comment: containerID)))
                }
            }
        }
    }

    /// Removes this container's rules in both families; missing tables are fine.
    static func remove(containerID: String, client: NFTClient) throws {
        for family in [NFTFamily.ip, .ip6] {
            try client.deleteRules(family: family, table: table, chains: chains) { $0.comment == containerID }
        }
    }
}
