import CLibnftnl
import CNISystem
import Netlink

/// Talks nftables to the kernel: one atomic batch per transaction, and rule listing.
public final class NFTClient {
    let transport: any NetlinkTransport
    private var sequence: UInt32 = 0

    /// Opens a `NETLINK_NETFILTER` socket in the calling thread's netns.
    public convenience init() throws(NetlinkError) {
        let socket = try NetlinkSocket(protocol: NetlinkSocket.netfilterProtocol)
        socket.setReceiveTimeout(seconds: 10)
        self.init(transport: socket, deletions: .node)
    }

    /// Where deleting commits are marked and read (see ``NetfilterDeletions``).
    let deletions: NetfilterDeletions

    /// Talks over `transport`: a real socket, or a test's recording fake kernel.
    public init(transport: any NetlinkTransport, deletions: NetfilterDeletions) {
        self.transport = transport
        self.deletions = deletions
    }

    /// Rejects a reply addressed to another port (not ours, not the kernel's broadcast 0).
    func checkPort(_ message: NetlinkMessage, _ operation: String) throws(NetlinkError) {
        guard message.portID == transport.portID || message.portID == 0 else {
            throw NetlinkError(
                kind: .unexpectedReply,
                operation: "\(operation): reply for port \(message.portID), ours is \(transport.portID)")
        }
    }

    /// What a socket gets without asking (`net.core.{r,w}mem_default` on most systems).
    static let defaultBuffer = 208 * 1024

    func nextSequence() -> UInt32 {
        sequence &+= 1
        return sequence
    }

    /// Applies every operation of `transaction` atomically: all or nothing.
    public func run(_ transaction: NFTTransaction) throws(NetlinkError) {
        guard !transaction.operations.isEmpty else { return }
        FaultPoint.step()
        let encoder = NFTEncoder(family: transaction.family, table: transaction.table)
        var bytes = NFTEncoder.batch(begin: true, seq: nextSequence())
        var pending: [UInt32: Int] = [:]
        let operations = transaction.operations.flatMap(\.chunks)
        for (index, operation) in operations.enumerated() {
            let seq = nextSequence()
            pending[seq] = index
            bytes += encoder.encode(operation, seq: seq)
        }
        bytes += NFTEncoder.batch(begin: false, seq: nextSequence())
        // The whole batch goes in one send (that is what makes it atomic), and the kernel
        // queues one acknowledgement per operation (each its own buffer of about 1 KiB of
        // accounting) before we can read any, so both buffers must fit the batch.
        if bytes.count > Self.defaultBuffer / 2 || pending.count > 64 {
            transport.reserveBuffers(
                send: bytes.count + Self.defaultBuffer, receive: pending.count * 2048 + Self.defaultBuffer)
        }
        try transport.send(bytes)
        // Deleting (or flushing) makes the socket's release wait for an RCU grace period:
        // a plugin should not make the runtime wait for it. Nor should it wait for another
        // attachment's deletions still pending in the kernel (see NetfilterDeletions).
        if transaction.operations.contains(where: \.deletes) {
            transport.releaseInBackground()
            deletions.mark()
        } else if deletions.recent {
            transport.releaseInBackground()
        }
        while !pending.isEmpty {
            for message in try NetlinkMessage.parse(try transport.receive()) where message.type == .error {
                try checkPort(message, "nftables batch")
                guard let index = pending.removeValue(forKey: message.sequence) else { continue }
                // The operation's text names it in the error (made only for a failure).
                var one = NFTTransaction(family: transaction.family, table: transaction.table)
                one.add(operations[index])
                let operation = one.text
                try NetlinkConnection.checkError(message, operation: operation)
            }
        }
    }

    /// The rules of `chain` in `table` (chain, comment and handle filled in; statements are not
    /// decoded; with `interfaces`, `inputInterface` and `portMatch` are). A missing table or
    /// chain has no rules. A dump the kernel marks interrupted (the ruleset changed while it was
    /// read) is read again.
    public func rules(family: NFTFamily, table: String, chain: String, interfaces: Bool = false) throws(NetlinkError)
        -> [NFTRule]
    {
        try listed(family: family, table: table, chain: chain, interfaces: interfaces) ?? []
    }

    /// As ``rules(family:table:chain:interfaces:)``, but nil when the table or chain does not
    /// exist, so a caller can tell a missing chain from an empty one. An empty dump costs one
    /// more request: the kernel answers a dump of a missing chain with nothing, so a GET tells.
    public func existingRules(family: NFTFamily, table: String, chain: String, interfaces: Bool = false)
        throws(NetlinkError) -> [NFTRule]?
    {
        let rules = try listed(family: family, table: table, chain: chain, interfaces: interfaces)
        if rules?.isEmpty == true, try !hasChain(family: family, table: table, chain: chain) { return nil }
        return rules
    }

    private func listed(family: NFTFamily, table: String, chain: String, interfaces: Bool) throws(NetlinkError)
        -> [NFTRule]?
    {
        for _ in 0...NetlinkConnection.dumpRetries {
            let (rules, interrupted) = try listOnce(family: family, table: table, chain: chain, interfaces: interfaces)
            if !interrupted { return rules }
        }
        throw NetlinkError(kind: .dumpInterrupted, operation: "list rules of \(table) \(chain)")
    }

    private func listOnce(family: NFTFamily, table: String, chain: String, interfaces: Bool) throws(NetlinkError)
        -> ([NFTRule]?, Bool)
    {
        let seq = nextSequence()
        let request = NFTEncoder(family: family, table: table).listRules(chain: chain, seq: seq)
        return try dump(request, seq: seq, operation: "list rules of \(table) \(chain)") { message in
            // libnftnl's full parse builds every expression: only worth it for the interface.
            (interfaces ? NFTClient.decodeRule(message) : NFTClient.summary(of: message)).map { [$0] } ?? []
        }
    }

    /// Sends a dump `request` and reads its answer, each message turned into items by
    /// `decode`: nil when the table, chain or set does not exist, and whether the kernel
    /// marked the dump interrupted (the ruleset changed while it was read).
    func dump<Item>(
        _ request: [UInt8], seq: UInt32, operation: String, _ decode: (NetlinkMessage) -> [Item]
    ) throws(NetlinkError) -> ([Item]?, Bool) {
        try transport.send(request)
        var out: [Item] = []
        var interrupted = false
        while true {
            for message in try NetlinkMessage.parse(try transport.receive()) where message.sequence == seq {
                try checkPort(message, operation)
                if message.flags.contains(.dumpInterrupted) { interrupted = true }
                switch message.type {
                case .error:
                    do { try NetlinkConnection.checkError(message, operation: operation) } catch {
                        if error.errno == .noSuchFileOrDirectory { return (nil, false) }
                        throw error
                    }
                    return (out, interrupted)
                case .done:
                    return (out, interrupted)
                default:
                    out += decode(message)
                }
            }
        }
    }

    /// A rule's chain, handle and comment, read straight from its attributes (`NFTA_RULE_*`
    /// after the 4-byte nfgenmsg), skipping the expressions: listing long chains stays cheap.
    static func summary(of message: NetlinkMessage) -> NFTRule? {
        guard let attributes = try? AttributeReader.read(message.payload.dropFirst(4)) else { return nil }
        var chain = ""
        var handle: UInt64?
        var comment: String?
        for attribute in attributes {
            switch attribute.type {
            case 2: chain = attribute.string
            case 3: handle = attribute.payload.count == 8 ? attribute.payload.reduce(0) { $0 << 8 | UInt64($1) } : nil
            case 7:
                comment = attribute.payload.withUnsafeBytes {
                    NFTClient.comment(in: $0, type: UInt8(attr(NFTNL_UDATA_RULE_COMMENT)))
                }
            default: break
            }
        }
        return NFTRule(chain: chain, statements: [], comment: comment, handle: handle)
    }

    /// Deletes, in one batch, the rules of `chains` that `matching` selects; when it selects
    /// none, nothing is sent. A missing table or chain has nothing to delete.
    ///
    /// Another process may delete some of those rules between the listing and the batch (two
    /// runtimes' DELs of one attachment): the batch then fails whole with `ENOENT`, and is
    /// listed and tried again, so what is still there goes and nothing is left half-done.
    public func deleteRules(family: NFTFamily, table: String, chains: [String], where matching: (NFTRule) -> Bool)
        throws(NetlinkError)
    {
        var tx = NFTTransaction(family: family, table: table)
        for attempt in 0...5 {
            tx.operations = []
            for chain in chains {
                for rule in try rules(family: family, table: table, chain: chain) where matching(rule) {
                    if let handle = rule.handle { tx.add(.deleteRule(chain: chain, handle: handle)) }
                }
            }
            if try commitDeleting(tx, final: attempt == 5) { return }
        }
    }

    private func commitDeleting(_ tx: NFTTransaction, final: Bool) throws(NetlinkError) -> Bool {
        do {
            try run(tx)
            return true
        } catch {
            if error.errno == .noSuchFileOrDirectory && !final { return false }
            throw error
        }
    }

    /// True when the table exists.
    public func hasTable(family: NFTFamily, table: String) throws(NetlinkError) -> Bool {
        let seq = nextSequence()
        return try exists(NFTEncoder(family: family, table: table).getTable(seq: seq), seq: seq, "get table \(table)")
    }

    /// Whether the chain exists.
    public func hasChain(family: NFTFamily, table: String, chain: String) throws(NetlinkError) -> Bool {
        let seq = nextSequence()
        let request = NFTEncoder(family: family, table: table).getChain(chain, seq: seq)
        return try exists(request, seq: seq, "get chain \(table) \(chain)")
    }

    /// Sends a GET for one object and reads the answer: false for `ENOENT`. (A dump is no
    /// test: the kernel answers one for a missing table or chain with nothing, not `ENOENT`.)
    private func exists(_ request: [UInt8], seq: UInt32, _ operation: String) throws(NetlinkError) -> Bool {
        try transport.send(request)
        while true {
            for message in try NetlinkMessage.parse(try transport.receive()) where message.sequence == seq {
                try checkPort(message, operation)
                guard message.type == .error else { continue }
                do { try NetlinkConnection.checkError(message, operation: operation) } catch {
                    if error.errno == .noSuchFileOrDirectory { return false }
                    throw error
                }
                return true
            }
        }
    }

    /// A rule as the kernel lists it, with the interface of its `meta iifname` match. Read
    /// with our own attribute reader, not libnftnl's parser: that one checks only that a
    /// string attribute is not empty before it runs `strcmp` or `strdup` on it, so a reply with
    /// an unterminated name would make it read past the message (found by fuzzing).
    static func decodeRule(_ message: NetlinkMessage) -> NFTRule? {
        guard var rule = summary(of: message), let attributes = try? AttributeReader.read(message.payload.dropFirst(4))
        else { return nil }
        rule.inputInterface = inputInterface(attributes)
        rule.portMatch = NFTPortMatch(attributes)
        return rule
    }

    /// The name compared by a `meta iifname` match: the `cmp` right after that `meta` load.
    /// `NFTA_RULE_EXPRESSIONS` holds one `NFTA_LIST_ELEM` per expression, each with its name
    /// and its data (`NFTA_META_KEY`, a big-endian u32; `NFTA_CMP_DATA` { `NFTA_DATA_VALUE` }).
    static func inputInterface(_ attributes: [Attribute]) -> String? {
        guard let list = attributes.first(where: { $0.type == 4 }), let elements = try? list.nested() else {
            return nil
        }
        var loadedName = false
        for element in elements {
            guard let fields = try? element.nested() else { return nil }
            let name = fields.first { $0.type == 1 }.map {
                String(decoding: $0.payload.prefix { $0 != 0 }, as: UTF8.self)
            }
            let data = fields.first { $0.type == 2 }.flatMap { try? $0.nested() } ?? []
            if loadedName && name == "cmp" {
                guard
                    let value = data.first(where: { $0.type == 3 }).flatMap({ try? $0.nested() })?.first(where: {
                        $0.type == 1
                    })
                else { return nil }
                return String(decoding: value.payload.prefix { $0 != 0 }, as: UTF8.self)
            }
            let key = data.first { $0.type == 2 }?.payload
            loadedName = name == "meta" && key == [0, 0, 0, UInt8(NFT_META_IIFNAME.rawValue)]
        }
        return nil
    }

    /// Reads the comment TLV (`type`, `len`, NUL-terminated value) from userdata.
    static func comment(in data: UnsafeRawBufferPointer, type: UInt8) -> String? {
        var i = 0
        while i + 2 <= data.count {
            let t = data[i], length = Int(data[i + 1])
            guard i + 2 + length <= data.count else { return nil }
            if t == type {
                let value = data[(i + 2)..<(i + 2 + length)]
                return String(decoding: value.prefix { $0 != 0 }, as: UTF8.self)
            }
            i += 2 + length
        }
        return nil
    }
}
