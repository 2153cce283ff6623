import CNISkeleton
import Netfilter

extension Masquerade {
    /// The chain the verdict map sends a subnet's sources to, shared by every attachment of
    /// that subnet with the same exemptions: the exemptions (evaluated first, as they come
    /// first), then masquerading for everything outside the subnet.
    struct SubnetChain {
        let subnet: IPPrefix
        let exempt: [IPPrefix]
        let name: String

        init(_ address: IPPrefix, exempt: [IPPrefix]) {
            subnet = address.masked
            self.exempt = exempt.filter { $0.address.isV4 == address.address.isV4 }.map(\.masked)
            let text = ([subnet] + self.exempt).map { "\($0)" }.joined(separator: ",")
            name = "masq_" + SHA512.hexPrefix(text, length: 16)
        }

        var rules: [NFTRule] {
            var out = exempt.map {
                NFTRule(chain: name, statements: [.address(.destination, equal: true, $0), .return])
            }
            out.append(NFTRule(chain: name, statements: [.address(.destination, equal: false, subnet), .masquerade]))
            return out
        }

        /// Adds the chain to `tx` when it is missing, or its rules again when they are not
        /// all there; `fresh` (the table is being made) skips the listing.
        func ensure(_ client: NFTClient, _ tx: inout NFTTransaction, fresh: Bool) throws {
            let present = fresh ? nil : try client.existingRules(family: .inet, table: Masquerade.table, chain: name)
            guard present?.count != rules.count else { return }
            let exemptions = exempt.isEmpty ? "" : ", except to " + exempt.map { "\($0)" }.joined(separator: " ")
            tx.add(
                .addChain(NFTChain(name: name, comment: "Masquerade traffic from \(subnet) to outside it\(exemptions)"))
            )
            if present != nil { tx.add(.flushChain(name)) }
            for rule in rules { tx.add(.addRule(rule)) }
        }
    }
}
