import Netlink

@testable import Netfilter

/// An element the fake netfilter kernel holds: its key, and the `NFTA_LIST_ELEM` payload as it
/// came, which listings send back.
struct FakeElement {
    var key: [UInt8]
    var payload: [UInt8]
    var comment: String?

    var value: [UInt8]? {
        let fields = (try? AttributeReader.read(payload[...])) ?? []
        return fields.first { $0.type == 2 }.flatMap { try? $0.nested() }?.first { $0.type == 1 }?.payload
    }
}

/// Sets, maps and their elements: NEWSET, NEWSETELEM (`EBUSY` for a key held with another
/// value), DELSETELEM (`ENOENT` for a missing one) and GETSETELEM (one element, or a dump).
extension FakeNetfilter {
    func applySet(_ operation: UInt16, _ family: UInt8, _ attributes: [Attribute]) -> Int32 {
        let table = Self.string(attributes, 1)
        let name = Self.string(attributes, 2)
        let key = "\(family) \(table) \(name)"
        if operation == 9 {
            log.append("add set \(key)")
            sets[key, default: []] += []
            return 0
        }
        guard sets[key] != nil else { return 2 }
        for element in Self.elements(attributes) {
            let held = sets[key]?.firstIndex { $0.key == element.key }
            if operation == 12 {
                if let held {
                    if sets[key]?[held].value != element.value { return 16 }
                    continue
                }
                log.append("add element \(key) \(element.comment ?? "-")")
                sets[key]?.append(element)
            } else {
                guard let held else { return 2 }
                log.append("delete element \(key) \(sets[key]?[held].comment ?? "-")")
                sets[key]?.remove(at: held)
            }
        }
        return 0
    }

    /// The comments of a set's elements, in order.
    func elementComments(_ family: UInt8, _ table: String, _ set: String) -> [String?] {
        (sets["\(family) \(table) \(set)"] ?? []).map(\.comment)
    }

    static func elements(_ attributes: [Attribute]) -> [FakeElement] {
        guard let list = attributes.first(where: { $0.type == 3 }), let items = try? list.nested() else { return [] }
        return items.compactMap { item -> FakeElement? in
            guard let fields = try? item.nested(),
                let key = fields.first(where: { $0.type == 1 }).flatMap({ try? $0.nested() })?.first?.payload
            else { return nil }
            let userdata: [UInt8] = fields.first(where: { $0.type == 6 })?.payload ?? []
            let comment: String? = userdata.withUnsafeBytes { NFTClient.comment(in: $0, type: 0) }
            return FakeElement(key: key, payload: item.payload, comment: comment)
        }
    }

    func getElements(_ family: UInt8, _ attributes: [Attribute], _ message: NetlinkMessage) -> [[UInt8]] {
        let table = Self.string(attributes, 1), name = Self.string(attributes, 2)
        guard let held = sets["\(family) \(table) \(name)"] else {
            return [message.fakeAnswer(errno: 2, port: portID)]
        }
        let dump = message.flags.contains(.dump)
        let wanted = Self.elements(attributes).map(\.key)
        let found = dump ? held : held.filter { wanted.contains($0.key) }
        var out = found.map { element -> [UInt8] in
            var list = AttributeWriter()
            list.bytes(RawAttribute(rawValue: 1), element.payload)
            var writer = AttributeWriter()
            writer.header([family, 0, 0, 0])
            writer.string(RawAttribute(rawValue: 1), table)
            writer.string(RawAttribute(rawValue: 2), name)
            writer.bytes(RawAttribute(rawValue: 3), list.bytes)
            return NetlinkMessage(
                type: MessageType(rawValue: Self.subsystem | 12), flags: dump ? .multi : [],
                sequence: message.sequence, portID: portID, payload: writer.bytes
            ).encoded()
        }
        if dump {
            out.append(
                NetlinkMessage(
                    type: .done, flags: .multi, sequence: message.sequence, portID: portID,
                    payload: AttributeWriter.encode(Int32(0))
                ).encoded())
        } else {
            out.append(message.fakeAnswer(errno: found.isEmpty ? 2 : 0, port: portID))
        }
        return out
    }
}
