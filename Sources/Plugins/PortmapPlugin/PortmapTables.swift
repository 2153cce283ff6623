import CNISkeleton
import Netfilter
import PluginSupport

/// ADD, DEL and CHECK against the kernel's `cni_hostport` tables: a fixed number of requests
/// per mapping, never a listing of what other pods hold (but for the rule chains, which hold
/// only the old layout's rules and taken host ports', and empty as their pods go).
struct PortmapTables {
    let client: NFTClient
    /// The comment of this container's entries (``AttachmentTag/portmapOwner(_:)``), not its ID.
    let containerID: String

    init(client: NFTClient, containerID: String) {
        self.client = client
        self.containerID = AttachmentTag.portmapOwner(containerID)
    }

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
        let waiting = try ruleChainRules(tx.family)
        for entry in PortmapRules.entries(for: container, conf, containerID: containerID) {
            let held = try element(tx.family, entry.set, entry.element.key)
            if let mapping = entry.mapping {
                // First come, first served: a port another container holds or waits for in the
                // rule chains gets our rule after theirs, and ours takes over when they go.
                let queued = waiting.filter { PortmapRules.forwards($0, like: mapping) }
                // Our own rule for another address (an ADD again after the address changed) goes.
                for rule in queued where rule.comment == containerID && rule.portMatch?.target != container {
                    if let handle = rule.handle { tx.add(.deleteRule(chain: rule.chain, handle: handle)) }
                }
                let others = queued.filter { $0.comment != containerID }
                if held.map({ $0.comment != containerID }) ?? !others.isEmpty {
                    let rule = PortmapRules.conflictRule(mapping, to: container, containerID: containerID)
                    if !queued.contains(where: { $0.comment == containerID && $0.portMatch?.target == container }) {
                        tx.add(.addRule(rule))
                    }
                    continue
                }
            }
            guard held != entry.element else { continue }
            if let held {
                // Ours with another address (an ADD again after the pod's address changed), or
                // a masquerading entry another attachment left for an address that is ours now.
                deletes[entry.set, default: []].append(held)
                if held.comment == containerID, let old = PortmapRules.target(of: held, family: tx.family),
                    old != container
                {
                    for (set, element) in try ownMasquerading(of: old, tx.family) {
                        deletes[set, default: []].append(element)
                    }
                }
            }
            adds[entry.set, default: []].append(entry.element)
        }
        for (set, elements) in deletes.sorted(by: { $0.key < $1.key }) {
            // One element may be both ours for the old address and in the way of the new one.
            var unique: [NFTElement] = []
            for element in elements where !unique.contains(where: { $0.key == element.key }) { unique.append(element) }
            tx.add(.deleteElements(set: set, unique))
        }
        for (set, elements) in adds.sorted(by: { $0.key < $1.key }) { tx.add(.addElements(set: set, elements)) }
    }

    /// Removes this container's elements and rules in both families. Keys come from `conf`
    /// (the mappings), and the masquerading keys from the addresses its mappings point to and
    /// `addresses` (prevResult's); only a DEL that knows neither lists the sets.
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
        var own: [(set: String, element: NFTElement)] = []
        let rules = try ruleChainRules(family).filter { $0.comment == containerID }
        if let conf {
            var targets = addresses ?? []
            for mapping in conf.mappings {
                guard let key = PortmapRules.key(of: mapping, family: family),
                    let held = try element(family, key.set, NFTField.bytes(key.fields)), held.comment == containerID
                else { continue }
                own.append((key.set, held))
                if let target = PortmapRules.target(of: held, family: family) { targets.append(target) }
            }
            targets += rules.compactMap { $0.portMatch?.target }
            if targets.isEmpty && addresses == nil {
                own += try listed(family, [PortmapRules.pairs, PortmapRules.masqueradeTo])
            }
            var seen: [IPAddress] = []
            for target in targets where !seen.contains(target) {
                seen.append(target)
                own += try ownMasquerading(of: target, family)
            }
        } else {
            own += try listed(family, PortmapRules.sets)
        }
        for set in Set(own.map(\.set)).sorted() {
            tx.add(.deleteElements(set: set, own.filter { $0.set == set }.map(\.element)))
        }
        for rule in rules {
            if let handle = rule.handle { tx.add(.deleteRule(chain: rule.chain, handle: handle)) }
        }
    }

    /// This container's masquerading elements for `address`.
    private func ownMasquerading(of address: IPAddress, _ family: NFTFamily) throws -> [(String, NFTElement)] {
        try PortmapRules.masqueradeKeys(of: address).compactMap { set, key in
            try element(family, set, key).flatMap { $0.comment == containerID ? (set, $0) : nil }
        }
    }

    private func listed(_ family: NFTFamily, _ sets: [String]) throws -> [(set: String, element: NFTElement)] {
        try sets.flatMap { set in
            (try client.elements(family: family, table: PortmapRules.table, set: set) ?? [])
                .filter { $0.comment == containerID }.map { (set, $0) }
        }
    }

    /// The rules of the rule chains (the old layout's, and taken host ports'), decoded.
    private func ruleChainRules(_ family: NFTFamily) throws -> [NFTRule] {
        try PortmapRules.ruleChains.flatMap {
            try client.rules(family: family, table: PortmapRules.table, chain: $0, interfaces: true)
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
        let rules = try ruleChainRules(family).filter { $0.comment == containerID }
        return missing == 0 ? 0 : max(0, missing - rules.count)
    }

    private func element(_ family: NFTFamily, _ set: String, _ key: [UInt8]) throws -> NFTElement? {
        try client.element(family: family, table: PortmapRules.table, set: set, rawKey: key)
    }
}
