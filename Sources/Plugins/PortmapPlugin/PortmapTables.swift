import CNISkeleton
import Netfilter

/// ADD, DEL and CHECK against the kernel's `cni_hostport` tables: a fixed number of requests
/// per mapping, never a listing of what other pods hold (but for the rule chains of the old
/// layout, which empty as their pods go).
struct PortmapTables {
    let client: NFTClient
    /// The comment of this container's entries (``PortmapRules/owner(_:)``).
    let containerID: String

    /// Makes the container address's elements (and the structure, when it is not intact) in one
    /// batch, replacing what this container held before; planned again when another runtime's
    /// call raced with it.
    func add(_ container: IPAddress, _ conf: PortmapConfig) throws {
        let family = PortmapRules.family(container)
        try client.run {
            var tx = NFTTransaction(family: family, table: PortmapRules.table)
            if try !PortmapRules.intact(client, family: family) { PortmapRules.addStructure(&tx, family: family) }
            try plan(container, conf, into: &tx)
            return tx
        }
    }

    private func plan(_ container: IPAddress, _ conf: PortmapConfig, into tx: inout NFTTransaction) throws {
        var deletes: [String: [NFTElement]] = [:], adds: [String: [NFTElement]] = [:]
        for entry in PortmapRules.entries(for: container, conf, containerID: containerID) {
            let existing = try element(tx.family, entry.set, entry.element.key)
            switch existing {
            case nil:
                adds[entry.set, default: []].append(entry.element)
            case let mine? where mine.comment == containerID:
                guard mine.value != entry.element.value else { continue }
                deletes[entry.set, default: []].append(mine)
                adds[entry.set, default: []].append(entry.element)
            case let other?:
                // Another container's mapping keeps the host port; ours gets a rule that takes
                // over when that container goes (the reference's order: first come, first
                // served). Masquerading of an address is the address's: its new holder takes
                // it over, so a late DEL of the one before leaves it alone.
                if let mapping = entry.mapping {
                    tx.add(.addRule(PortmapRules.conflictRule(mapping, to: container, containerID: containerID)))
                } else {
                    deletes[entry.set, default: []].append(other)
                    adds[entry.set, default: []].append(entry.element)
                }
            }
        }
        for (set, elements) in deletes.sorted(by: { $0.key < $1.key }) { tx.add(.deleteElements(set: set, elements)) }
        for (set, elements) in adds.sorted(by: { $0.key < $1.key }) { tx.add(.addElements(set: set, elements)) }
    }

    /// Removes this container's elements and rules in both families. Keys come from `conf`
    /// (the mappings) and `addresses` (the masquerading pairs); what they cannot tell is found
    /// by listing the sets, which only a DEL without config or prevResult needs.
    func remove(_ conf: PortmapConfig?, addresses: [IPAddress]?) throws {
        for family in [NFTFamily.ip, .ip6] {
            guard try client.hasTable(family: family, table: PortmapRules.table) else { continue }
            try client.run {
                var tx = NFTTransaction(family: family, table: PortmapRules.table)
                try planRemoval(family, conf, addresses?.filter { PortmapRules.family($0) == family }, into: &tx)
                return tx
            }
        }
    }

    private func planRemoval(
        _ family: NFTFamily, _ conf: PortmapConfig?, _ addresses: [IPAddress]?, into tx: inout NFTTransaction
    ) throws {
        var keys: [(set: String, key: [UInt8])] = []
        var listed: [String] = []
        switch (conf, addresses) {
        case (let conf?, let addresses?):
            keys = addresses.flatMap { PortmapRules.entries(for: $0, conf, containerID: containerID) }
                .map { ($0.set, $0.element.key) }
        case (let conf?, nil):
            keys = conf.mappings.compactMap { PortmapRules.key(of: $0, family: family) }
                .map { ($0.set, NFTField.bytes($0.fields)) }
            listed = [PortmapRules.pairs, PortmapRules.masqueradeTo]
        case (nil, _):
            listed = PortmapRules.sets
        }
        var own: [String: [NFTElement]] = [:]
        var seen = Set<String>()
        for (set, key) in keys where seen.insert("\(set) \(key)").inserted {
            if let held = try element(family, set, key), held.comment == containerID {
                own[set, default: []].append(held)
            }
        }
        for set in listed {
            let held = try client.elements(family: family, table: PortmapRules.table, set: set) ?? []
            own[set, default: []] += held.filter { $0.comment == containerID }
        }
        for (set, elements) in own.sorted(by: { $0.key < $1.key }) where !elements.isEmpty {
            tx.add(.deleteElements(set: set, elements))
        }
        for rule in try legacyRules(family) {
            if let handle = rule.handle { tx.add(.deleteRule(chain: rule.chain, handle: handle)) }
        }
    }

    /// This container's rules in the rule chains (the old layout's, and taken host ports').
    private func legacyRules(_ family: NFTFamily) throws -> [NFTRule] {
        try PortmapRules.ruleChains.flatMap {
            try client.rules(family: family, table: PortmapRules.table, chain: $0).filter { $0.comment == containerID }
        }
    }

    /// How many of the container address's mappings and masquerading entries are missing.
    func missing(_ container: IPAddress, _ conf: PortmapConfig) throws -> Int {
        let family = PortmapRules.family(container)
        var missing = 0
        for entry in PortmapRules.entries(for: container, conf, containerID: containerID) {
            let held = try element(family, entry.set, entry.element.key)
            if held?.comment != containerID || held?.value != entry.element.value { missing += 1 }
        }
        return missing == 0 ? 0 : max(0, missing - (try legacyRules(family).count))
    }

    private func element(_ family: NFTFamily, _ set: String, _ key: [UInt8]) throws -> NFTElement? {
        try client.element(family: family, table: PortmapRules.table, set: set, rawKey: key)
    }
}
