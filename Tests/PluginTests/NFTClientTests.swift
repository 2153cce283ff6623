import Netlink
import Testing
@testable import Netfilter

/// A kernel played by the test: records what was sent and answers from a script.
final class FakeNetfilterKernel: NetlinkTransport {
    let portID: UInt32 = 4242
    private(set) var sent: [[UInt8]] = []
    /// How often the client asked for its socket's release to happen in a helper.
    private(set) var backgroundReleases = 0
    /// Called with each sent datagram; returns the datagrams the kernel answers with.
    var answer: (_ sent: [NetlinkMessage], _ call: Int) -> [[UInt8]]
    private var queue: [[UInt8]] = []

    init(answer: @escaping (_ sent: [NetlinkMessage], _ call: Int) -> [[UInt8]]) { self.answer = answer }

    func send(_ bytes: [UInt8]) throws(NetlinkError) {
        sent.append(bytes)
        queue += answer(try NetlinkMessage.parse(bytes), sent.count - 1)
    }

    func receive() throws(NetlinkError) -> [UInt8] {
        guard !queue.isEmpty else { throw NetlinkError(kind: .system, operation: "recv", errno: .interrupted) }
        return queue.removeFirst()
    }

    func releaseInBackground() { backgroundReleases += 1 }

    /// `NLMSG_ERROR` answering `message` (0 is an ACK).
    static func ack(_ message: NetlinkMessage, errno: Int32 = 0, port: UInt32 = 4242) -> [UInt8] {
        message.fakeAnswer(errno: errno, port: port)
    }

    static func done(_ seq: UInt32, flags: MessageFlags = []) -> [UInt8] {
        NetlinkMessage(
            type: .done, flags: flags.union(.multi), sequence: seq, portID: 4242,
            payload: AttributeWriter.encode(Int32(0))
        ).encoded()
    }
}

@Suite("NFTClient against a fake kernel: batches, acknowledgements, errors, ports, interrupted dumps")
struct NFTClientTests {
    /// Messages of a batch that ask for an acknowledgement (every operation, not begin/end).
    static func acknowledged(_ messages: [NetlinkMessage]) -> [NetlinkMessage] {
        messages.filter { $0.flags.contains(.ack) }
    }

    func transaction(rules: Int) -> NFTTransaction {
        var tx = NFTTransaction(family: .inet, table: "t")
        tx.add(.addTable(NFTTable(family: .inet, name: "t")))
        tx.add(.addChain(NFTChain(name: "c")))
        for i in 0..<rules { tx.add(.addRule(NFTRule(chain: "c", statements: [.masquerade], comment: "r\(i)"))) }
        return tx
    }

    @Test("One atomic batch: begin, every operation with an ACK asked for, end; every ACK is awaited")
    func batch() throws {
        let kernel = FakeNetfilterKernel { sent, _ in Self.acknowledged(sent).map { FakeNetfilterKernel.ack($0) } }
        try NFTClient(transport: kernel, deletions: .unmarked).run(transaction(rules: 3))
        #expect(kernel.sent.count == 1, "one datagram: the kernel applies it all or nothing")
        let messages = try NetlinkMessage.parse(kernel.sent[0])
        #expect(messages.count == 7)
        #expect(Self.acknowledged(messages).count == 5)
    }

    @Test("A refused operation is reported with its own text and the kernel's errno")
    func refused() throws {
        let kernel = FakeNetfilterKernel { sent, _ in
            Self.acknowledged(sent).enumerated().map { FakeNetfilterKernel.ack($1, errno: $0 == 3 ? 22 : 0) }
        }
        #expect { try NFTClient(transport: kernel, deletions: .unmarked).run(transaction(rules: 3)) } throws: { error in
            guard let error = error as? NetlinkError else { return false }
            return error.errno == .invalidArgument && error.operation.contains("r1")
        }
    }

    @Test("A reply addressed to another port is refused")
    func foreignPort() throws {
        let kernel = FakeNetfilterKernel { sent, _ in
            Self.acknowledged(sent).map { FakeNetfilterKernel.ack($0, port: 99) }
        }
        #expect { try NFTClient(transport: kernel, deletions: .unmarked).run(transaction(rules: 1)) } throws: { error in
            (error as? NetlinkError)?.kind == .unexpectedReply
        }
    }

    @Test("An interrupted rule dump is read again; a missing table has no rules")
    func interruptedDump() throws {
        var dumps = 0
        let kernel = FakeNetfilterKernel { sent, _ in
            // An empty dump is followed by a GETCHAIN (does the chain exist?): it does.
            guard sent[0].type.rawValue & 0xff == 7 else { return [FakeNetfilterKernel.ack(sent[0])] }
            dumps += 1
            return [FakeNetfilterKernel.done(sent[0].sequence, flags: dumps == 1 ? .dumpInterrupted : [])]
        }
        #expect(
            try NFTClient(transport: kernel, deletions: .unmarked).rules(family: .inet, table: "t", chain: "c").isEmpty)
        #expect(dumps == 2, "the interrupted dump was repeated")
        let missing = FakeNetfilterKernel { sent, _ in [FakeNetfilterKernel.ack(sent[0], errno: 2)] }
        #expect(
            try NFTClient(transport: missing, deletions: .unmarked).rules(family: .inet, table: "t", chain: "c").isEmpty
        )
    }

    @Test("A missing chain or table answers a dump with nothing, not ENOENT: a GET tells it from an empty one")
    func missingChain() throws {
        for exists in [true, false] {
            let kernel = FakeNetfilterKernel { sent, _ in
                let type = sent[0].type.rawValue & 0xff
                if type == 7 { return [FakeNetfilterKernel.done(sent[0].sequence)] }
                return [FakeNetfilterKernel.ack(sent[0], errno: exists ? 0 : 2)]
            }
            let client = NFTClient(transport: kernel, deletions: .unmarked)
            let listed = try client.existingRules(family: .inet, table: "t", chain: "c")
            #expect(exists ? listed == [] : listed == nil)
            #expect(try client.hasTable(family: .inet, table: "t") == exists)
        }
    }

    @Test("The cheap rule summary reads what libnftnl's full parse reads: chain, handle, comment")
    func summary() throws {
        let encoded = NFTEncoder(family: .inet, table: "t").encode(
            .addRule(NFTRule(chain: "c", statements: [.masquerade], comment: "net: n, if: eth0, id: x")), seq: 9)
        let message = try #require(try NetlinkMessage.parse(encoded).first)
        var writer = AttributeWriter()
        writer.header(message.payload)
        writer.bytes(RawAttribute(rawValue: 3), withUnsafeBytes(of: UInt64(77).bigEndian) { Array($0) })
        let dumped = NetlinkMessage(type: message.type, flags: .multi, sequence: 9, portID: 0, payload: writer.bytes)
        let fast = try #require(NFTClient.summary(of: dumped))
        let full = try #require(NFTClient.decodeRule(dumped))
        #expect(fast.chain == "c" && fast.handle == 77 && fast.comment == "net: n, if: eth0, id: x")
        #expect(fast.chain == full.chain && fast.handle == full.handle && fast.comment == full.comment)
    }
}
