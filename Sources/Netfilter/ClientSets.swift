import CLibnftnl
import CNISystem
import Netlink

/// Reading sets: one element by its key (a single request however big the set), or all.
extension NFTClient {
    /// The element of `set` with `key`; nil when there is none, or no such set or table.
    public func element(family: NFTFamily, table: String, set: String, key: [NFTField]) throws(NetlinkError)
        -> NFTElement?
    {
        try element(family: family, table: table, set: set, rawKey: NFTField.bytes(key))
    }

    /// As ``element(family:table:set:key:)``, with the key as the kernel stores it.
    public func element(family: NFTFamily, table: String, set: String, rawKey key: [UInt8]) throws(NetlinkError)
        -> NFTElement?
    {
        let operation = "get element of \(table) \(set)"
        let seq = nextSequence()
        let encoder = NFTEncoder(family: family, table: table)
        try transport.send(encoder.getElements(set: set, key: key, seq: seq))
        var found: NFTElement?
        while true {
            for message in try NetlinkMessage.parse(try transport.receive()) where message.sequence == seq {
                try checkPort(message, operation)
                guard message.type == .error else {
                    found = found ?? NFTClient.decodeElements(message).first
                    continue
                }
                do { try NetlinkConnection.checkError(message, operation: operation) } catch {
                    if error.errno == .noSuchFileOrDirectory { return nil }
                    throw error
                }
                return found
            }
        }
    }

    /// Every element of `set`; nil when the set or table does not exist. A dump the kernel
    /// marks interrupted is read again.
    public func elements(family: NFTFamily, table: String, set: String) throws(NetlinkError) -> [NFTElement]? {
        for _ in 0...NetlinkConnection.dumpRetries {
            let (elements, interrupted) = try dumpElements(family: family, table: table, set: set)
            if !interrupted { return elements }
        }
        throw NetlinkError(kind: .dumpInterrupted, operation: "list elements of \(table) \(set)")
    }

    private func dumpElements(family: NFTFamily, table: String, set: String) throws(NetlinkError)
        -> ([NFTElement]?, Bool)
    {
        let seq = nextSequence()
        let request = NFTEncoder(family: family, table: table).getElements(set: set, key: nil, seq: seq)
        return try dump(request, seq: seq, operation: "list elements of \(table) \(set)", NFTClient.decodeElements)
    }

    /// The elements of a NEWSETELEM message, read with our own attribute reader:
    /// `NFTA_SET_ELEM_LIST_ELEMENTS` holds one `NFTA_LIST_ELEM` each, with `NFTA_SET_ELEM_KEY`
    /// and `_DATA` (both `{ NFTA_DATA_VALUE }`, or `{ NFTA_DATA_VERDICT { code, chain } }`) and
    /// `_USERDATA`. Anything malformed is skipped.
    static func decodeElements(_ message: NetlinkMessage) -> [NFTElement] {
        guard let attributes = try? AttributeReader.read(message.payload.dropFirst(4)),
            let list = attributes.first(where: { $0.type == 3 }), let items = try? list.nested()
        else { return [] }
        return items.compactMap { item -> NFTElement? in
            guard item.type == 1, let fields = try? item.nested(),
                let key = fields.first(where: { $0.type == 1 }).flatMap(value(of:))
            else { return nil }
            var element = NFTElement(rawKey: key, value: nil, comment: nil)
            if let data = fields.first(where: { $0.type == 2 }), let inner = try? data.nested() {
                if let bytes = value(of: data) {
                    element.value = .data(bytes)
                } else if let verdict = inner.first(where: { $0.type == 2 }).flatMap({ try? $0.nested() }),
                    let chain = verdict.first(where: { $0.type == 2 })
                {
                    element.value = .goto(String(decoding: chain.payload.prefix { $0 != 0 }, as: UTF8.self))
                }
            }
            if let userdata = fields.first(where: { $0.type == 6 }) {
                element.comment = userdata.payload.withUnsafeBytes {
                    NFTClient.comment(in: $0, type: UInt8(attr(NFTNL_UDATA_SET_ELEM_COMMENT)))
                }
            }
            return element
        }
    }

    /// The bytes of an `nft_data` attribute's `NFTA_DATA_VALUE`.
    private static func value(of attribute: Attribute) -> [UInt8]? {
        (try? attribute.nested())?.first(where: { $0.type == 1 }).map { Array($0.payload) }
    }
}

extension NFTClient {
    /// Plans a batch from what the kernel holds and runs it. Another runtime's call may change
    /// that in between (an element deleted or a key taken meanwhile): the batch then fails whole
    /// (`ENOENT`, `EBUSY`, `EEXIST`) and is planned again, up to five times.
    public func run(replanning plan: () throws -> NFTTransaction) throws {
        for attempt in 0...5 {
            let tx = try plan()
            if try commit(tx, final: attempt == 5) { return }
        }
    }

    private func commit(_ tx: NFTTransaction, final: Bool) throws(NetlinkError) -> Bool {
        do {
            try run(tx)
            return true
        } catch {
            let raced = [Errno.noSuchFileOrDirectory, .resourceBusy, .fileExists].contains { $0 == error.errno }
            if raced && !final { return false }
            throw error
        }
    }
}
