import CNISkeleton
import Netfilter

/// The nftables layout, one `cni_hostport` table per family. Mappings are elements of two
/// maps and hairpin/localhost masquerading elements of two sets, each commented with the
/// container ID, so a packet costs one lookup per map and an ADD or DEL a fixed number of
/// messages however many pods are mapped:
///
/// ```
/// prerouting, output (nat, dstnat): fib daddr type local jump hostports_all
/// hostports_all: dnat to ip daddr . meta l4proto . th dport map @hostip_hostport_map
///                jump hostip_hostports
///                dnat to meta l4proto . th dport map @hostport_map
///                jump hostports
/// masquerade (nat, srcnat): ip saddr . ip daddr @masquerade_pairs masquerade
///                           ip daddr @masquerade_to masquerade
/// ```
///
/// The rule chains `hostports`, `hostip_hostports` and `masquerading` are the layout of the
/// reference's nftables backend (and of ours before the maps): one rule per mapping. DEL still
/// removes a container's rules there, so a node moves to the maps with pods running. New rules
/// go there only for a mapping whose host port another container already holds or waits for:
/// as with the reference's rules, the first one keeps the traffic and the next takes over
/// when it goes. A mapping bound to a host IP comes before any that is not, map or rule.
enum PortmapRules {
    static let table = "cni_hostport"
    static let ruleChains = ["hostports", "hostip_hostports", "masquerading"]
    static let portMap = "hostport_map"
    static let hostIPMap = "hostip_hostport_map"
    static let pairs = "masquerade_pairs"
    static let masqueradeTo = "masquerade_to"
    static let sets = [portMap, hostIPMap, pairs, masqueradeTo]
    /// The fixed chains and how many rules each holds when intact.
    static let fixedChains = [("hostports_all", 4), ("prerouting", 1), ("output", 1), ("masquerade", 2)]

    static func family(_ ip: IPAddress) -> NFTFamily { ip.isV4 ? .ip : .ip6 }

    /// Whether the fixed structure is there as built, so ADD need not touch it: re-adding base
    /// chains and flushing them makes the socket's close wait for an RCU grace period.
    static func intact(_ client: NFTClient, family: NFTFamily) throws -> Bool {
        for (chain, count) in fixedChains {
            guard try client.existingRules(family: family, table: table, chain: chain)?.count == count else {
                return false
            }
        }
        return true
    }

    /// The table, maps, sets and fixed chains.
    static func addStructure(_ tx: inout NFTTransaction, family: NFTFamily) {
        let v4 = family == .ip
        let address: NFTDataType = v4 ? .ipv4Address : .ipv6Address
        tx.add(.addTable(NFTTable(family: family, name: table, comment: "CNI portmap plugin")))
        let target: [NFTDataType] = [address, .inetService]
        tx.add(.addSet(NFTSet(name: portMap, key: [.inetProtocol, .inetService], data: target)))
        tx.add(.addSet(NFTSet(name: hostIPMap, key: [address, .inetProtocol, .inetService], data: target)))
        tx.add(.addSet(NFTSet(name: pairs, key: [address, address])))
        tx.add(.addSet(NFTSet(name: masqueradeTo, key: [address])))
        for name in ["hostports", "hostip_hostports", "hostports_all"] { tx.add(.addChain(NFTChain(name: name))) }
        tx.add(.flushChain("hostports_all"))
        let port: [NFTStatement.Selector] = [.protocolNumber, .destinationPort]
        let all = { (statements: [NFTStatement]) in
            NFTOperation.addRule(NFTRule(chain: "hostports_all", statements: statements))
        }
        tx.add(all([.dnatMap([.address(.destination, v4: v4)] + port, map: hostIPMap, v4: v4)]))
        tx.add(all([.jump("hostip_hostports")]))
        tx.add(all([.dnatMap(port, map: portMap, v4: v4)]))
        tx.add(all([.jump("hostports")]))
        for (name, hook) in [("prerouting", NFTHook.prerouting), ("output", .output)] {
            tx.add(.addChain(NFTChain(name: name, base: .init(type: .nat, hook: hook, priority: .dstnat))))
            tx.add(.flushChain(name))
            tx.add(.addRule(NFTRule(chain: name, statements: [.destinationIsLocal, .jump("hostports_all")])))
        }
        for name in ["masquerading", "masquerade"] {
            tx.add(.addChain(NFTChain(name: name, base: .init(type: .nat, hook: .postrouting, priority: .srcnat))))
        }
        tx.add(.flushChain("masquerade"))
        let pair: [NFTStatement.Selector] = [.address(.source, v4: v4), .address(.destination, v4: v4)]
        tx.add(.addRule(NFTRule(chain: "masquerade", statements: [.member(pair, set: pairs), .masquerade])))
        tx.add(
            .addRule(
                NFTRule(
                    chain: "masquerade",
                    statements: [.member([.address(.destination, v4: v4)], set: masqueradeTo), .masquerade])))
    }

    /// One element of a map or set, and the mapping it stands for (nil for masquerading).
    struct Entry {
        var set: String
        var element: NFTElement
        var mapping: PortMapping?
    }

    /// The elements of a container address: one per mapping of its family and, with `snat`,
    /// its hairpin and localhost pairs (or, with `masqAll`, the address itself).
    static func entries(for container: IPAddress, _ conf: PortmapConfig, containerID: String) -> [Entry] {
        var out: [Entry] = []
        for mapping in conf.mappings {
            if let key = key(of: mapping, family: family(container)) {
                let value = NFTElementValue.fields([.address(container), .port(mapping.containerPort)])
                out.append(
                    Entry(
                        set: key.set, element: NFTElement(key: key.fields, value: value, comment: containerID),
                        mapping: mapping))
            }
        }
        guard conf.snat else { return out }
        if conf.masqAll {
            out.append(Entry(set: masqueradeTo, element: NFTElement(key: [.address(container)], comment: containerID)))
            return out
        }
        var sources = [container]
        if container.isV4 { sources.append(.v4(0x7f00_0001)) }
        for source in sources {
            let key: [NFTField] = [.address(source), .address(container)]
            out.append(Entry(set: pairs, element: NFTElement(key: key, comment: containerID)))
        }
        return out
    }

    /// Whether a rule of the rule chains forwards the same host port (and host IP) as `mapping`.
    static func forwards(_ rule: NFTRule, like mapping: PortMapping) -> Bool {
        guard let match = rule.portMatch else { return false }
        let hostIP = mapping.hostIP.flatMap { $0.isUnspecified ? nil : $0 }
        return match.port == mapping.hostPort && match.protocolNumber == mapping.protocolNumber
            && match.destination == hostIP
    }

    /// The masquerading keys of a container address, whichever `snat` and `masqAll` made.
    static func masqueradeKeys(of container: IPAddress) -> [(set: String, key: [UInt8])] {
        var out = [(masqueradeTo, NFTField.bytes([.address(container)]))]
        out.append((pairs, NFTField.bytes([.address(container), .address(container)])))
        if container.isV4 { out.append((pairs, NFTField.bytes([.address(.v4(0x7f00_0001)), .address(container)]))) }
        return out
    }

    /// The container address a mapping's value sends packets to.
    static func target(of element: NFTElement, family: NFTFamily) -> IPAddress? {
        guard case .data(let bytes)? = element.value else { return nil }
        return IPAddress(bytes: Array(bytes.prefix(family == .ip ? 4 : 16)))
    }

    /// The map and key of a mapping in `family`; nil when its host IP is of the other family.
    static func key(of mapping: PortMapping, family: NFTFamily) -> (set: String, fields: [NFTField])? {
        let port: [NFTField] = [.protocolNumber(mapping.protocolNumber), .port(mapping.hostPort)]
        guard let hostIP = mapping.hostIP else { return (portMap, port) }
        guard (hostIP.isV4 ? NFTFamily.ip : .ip6) == family else { return nil }
        return hostIP.isUnspecified ? (portMap, port) : (hostIPMap, [.address(hostIP)] + port)
    }

    /// The rule a mapping gets when its host port is taken: the reference's DNAT rule.
    static func conflictRule(_ mapping: PortMapping, to container: IPAddress, containerID: String) -> NFTRule {
        var statements: [NFTStatement] = []
        var chain = "hostports"
        if let hostIP = mapping.hostIP, !hostIP.isUnspecified {
            statements.append(.address(.destination, equal: true, hostIP.hostPrefix))
            chain = "hostip_hostports"
        }
        statements += [
            .destinationPort(protocolNumber: mapping.protocolNumber, port: mapping.hostPort),
            .dnat(address: container, port: mapping.containerPort),
        ]
        return NFTRule(chain: chain, statements: statements, comment: containerID)
    }
}
