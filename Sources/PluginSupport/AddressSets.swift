import CNISkeleton
import Netfilter

/// Elements keyed by a pod address, in one set (or map) per family of an inet table, each
/// commented with the attachment that holds it: ADD and DEL find theirs with one request per
/// address, never by listing what every other pod holds.
public struct AddressSets: Sendable {
    public let table: String
    public let v4: String
    public let v6: String

    public init(table: String, v4: String, v6: String) {
        self.table = table
        self.v4 = v4
        self.v6 = v6
    }

    public func set(for address: IPAddress) -> String { address.isV4 ? v4 : v6 }

    /// Adds to `tx` what makes `address` map to `value` under `comment`. An address is its
    /// newest holder's: an element another attachment left is replaced, so that attachment's
    /// late DEL leaves this one alone. `fresh` (the sets are being made) skips the lookup.
    public func claim(
        _ address: IPAddress, value: NFTElementValue? = nil, comment: String, client: NFTClient, fresh: Bool = false,
        into tx: inout NFTTransaction
    ) throws {
        let element = NFTElement(key: [.address(address)], value: value, comment: comment)
        let set = set(for: address)
        let held = fresh ? nil : try client.element(family: .inet, table: table, set: set, rawKey: element.key)
        if held == element { return }
        if let held { tx.add(.deleteElements(set: set, [held])) }
        tx.add(.addElements(set: set, [element]))
    }

    /// Adds to `tx` the deletion of the elements whose comment `matching` accepts: looked up by
    /// `addresses` when they are known, else found by listing both sets.
    public func release(
        addresses: [IPAddress]?, matching: (String) -> Bool, client: NFTClient, into tx: inout NFTTransaction
    ) throws {
        for (set, v4) in [(v4, true), (v6, false)] {
            let held: [NFTElement]
            if let addresses {
                held = try addresses.filter { $0.isV4 == v4 }.compactMap {
                    try client.element(family: .inet, table: table, set: set, key: [.address($0)])
                }
            } else {
                held = try client.elements(family: .inet, table: table, set: set) ?? []
            }
            let own = held.filter { $0.comment.map(matching) ?? false }
            if !own.isEmpty { tx.add(.deleteElements(set: set, own)) }
        }
    }

    /// Whether every one of `addresses` has an element whose comment `matching` accepts.
    public func hold(_ addresses: [IPAddress], matching: (String) -> Bool, client: NFTClient) throws -> Bool {
        try addresses.allSatisfy { address in
            let element = try client.element(
                family: .inet, table: table, set: set(for: address), key: [.address(address)])
            return element?.comment.map(matching) ?? false
        }
    }
}
