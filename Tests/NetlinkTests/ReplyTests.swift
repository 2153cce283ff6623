import Testing
@testable import Netlink

@Suite("Replies: parsing kernel answers, errors, sequence checks and dump retries")
struct ReplyTests {
    typealias Recorder = GoldenRequestTests.Recorder

    // The start of the kernel's RTM_NEWLINK answer to `ip link show dev lo` in a fresh netns,
    // captured with `strace -e trace=recvmsg -s 2000 -xx`; cut after the IFLA_ADDRESS attribute.
    static let loReplyPayload = hex(
        """
        00 00 04 03  01 00 00 00  08 00 00 00  00 00 00 00    // ifinfomsg: ARPHRD_LOOPBACK, index 1, IFF_LOOPBACK
        07 00 03 00  6c 6f 00 00                              // IFLA_IFNAME "lo"
        08 00 0d 00  e8 03 00 00                              // IFLA_TXQLEN 1000
        05 00 10 00  02 00 00 00                              // IFLA_OPERSTATE IF_OPER_DOWN
        05 00 11 00  00 00 00 00                              // IFLA_LINKMODE 0
        08 00 04 00  00 00 01 00                              // IFLA_MTU 65536
        0a 00 01 00  00 00 00 00  00 00 00 00                 // IFLA_ADDRESS 00:00:00:00:00:00
        """)

    @Test("A captured link reply parses into the link's fields")
    func parseLink() throws {
        let link = try Link(payload: Self.loReplyPayload)
        #expect(link.name == "lo")
        #expect(link.index == 1)
        #expect(link.mtu == 65536)
        #expect(link.flags == .loopback)
        #expect(!link.isUp)
        #expect(link.operationalState == .down)
        #expect(link.hardwareAddress.description == "00:00:00:00:00:00")
        #expect(link.kind == nil)
    }

    static func errorReply(seq: UInt32, errno: Int32, message: String?) -> [UInt8] {
        var payload =
            AttributeWriter.encode(-errno)
            + NetlinkMessage(type: .newLink, flags: [.request, .ack], sequence: seq, payload: []).encoded()
        var flags: MessageFlags = .capped
        if let message {
            var w = AttributeWriter()
            w.string(ExtAckAttribute.message, message)
            payload += w.bytes
            flags.insert(.ackTLVs)
        }
        return NetlinkMessage(type: .error, flags: flags, sequence: seq, portID: 4242, payload: payload).encoded()
    }

    @Test("A kernel error carries its errno and the extended-ACK text")
    func extAck() throws {
        let recorder = Recorder(replies: [Self.errorReply(seq: 1, errno: 17, message: "Link already exists")])
        let connection = NetlinkConnection(transport: recorder)
        #expect(
            throws: NetlinkError(
                kind: .kernel, operation: "RTM_NEWLINK", errno: .fileExists, extAckMessage: "Link already exists")
        ) {
            try connection.acknowledged(.newLink, payload: [])
        }
    }

    @Test("An error or DONE status of Int32.min (no negation) is a clamped errno, not a trap (found by fuzzing)")
    func extremeStatus() {
        let status = withUnsafeBytes(of: Int32.min.littleEndian) { Array($0) }
        let error = NetlinkMessage(
            type: .error, flags: [], sequence: 1, payload: status + [UInt8](repeating: 0, count: 16))
        #expect(throws: NetlinkError.self) { try NetlinkConnection.checkError(error, operation: "x") }
        let done = NetlinkMessage(type: .done, flags: .multi, sequence: 1, payload: status)
        #expect(throws: NetlinkError.self) { try NetlinkConnection.checkDone(done, operation: "x") }
    }

    @Test("A missing link is a typed not-found error, distinguishable from other failures")
    func notFound() throws {
        let recorder = Recorder(replies: [Self.errorReply(seq: 1, errno: 19, message: nil)])
        let route = RouteNetlink(connection: NetlinkConnection(transport: recorder))
        do {
            _ = try route.link(named: "nope")
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .notFound)
            #expect(error.errno == .noSuchDevice)
        }
    }

    @Test("A reply with a wrong sequence number is rejected")
    func wrongSequence() {
        let recorder = Recorder(replies: [GoldenRequestTests.ack(seq: 7)])
        let connection = NetlinkConnection(transport: recorder)
        #expect(throws: NetlinkError.self) { try connection.acknowledged(.newLink, payload: []) }
        do { try connection.acknowledged(.newLink, payload: []) } catch { #expect(error.kind != .kernel) }
    }

    @Test("A reply for another port is rejected")
    func wrongPort() {
        let recorder = Recorder(replies: [GoldenRequestTests.ack(seq: 1, port: 99)])
        do {
            try NetlinkConnection(transport: recorder).acknowledged(.newLink, payload: [])
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .unexpectedReply)
        }
    }

    static func linkDump(seq: UInt32, interrupted: Bool) -> [UInt8] {
        let flags: MessageFlags = interrupted ? [.multi, .dumpInterrupted] : .multi
        let link = NetlinkMessage(type: .newLink, flags: flags, sequence: seq, portID: 4242, payload: loReplyPayload)
            .encoded()
        let done = NetlinkMessage(type: .done, flags: flags, sequence: seq, portID: 4242, payload: [0, 0, 0, 0])
            .encoded()
        return link + done
    }

    @Test("An interrupted dump (NLM_F_DUMP_INTR) is retried")
    func dumpRetry() throws {
        let recorder = Recorder(replies: [
            Self.linkDump(seq: 1, interrupted: true), Self.linkDump(seq: 2, interrupted: false),
        ])
        let links = try RouteNetlink(connection: NetlinkConnection(transport: recorder)).links()
        #expect(links.map(\.name) == ["lo"])
        #expect(recorder.sent.count == 2)
    }

    @Test("A dump that stays interrupted gives up after a bounded number of retries")
    func dumpGivesUp() {
        let replies = (1...10).map { Self.linkDump(seq: UInt32($0), interrupted: true) }
        let recorder = Recorder(replies: replies)
        do {
            _ = try RouteNetlink(connection: NetlinkConnection(transport: recorder)).links()
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .dumpInterrupted)
            #expect(recorder.sent.count == NetlinkConnection.dumpRetries + 1)
        }
    }

    @Test("Truncated or garbage replies are errors, never traps")
    func garbage() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0..<64, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            _ = try? NetlinkMessage.parse(bytes)
            _ = try? AttributeReader.read(bytes[...])
            _ = try? Link(payload: bytes)
            _ = try? InterfaceAddress(payload: bytes)
        }
    }

    @Test("Nested attributes get their length back-patched and padding is the writer's job")
    func nested() throws {
        var w = AttributeWriter()
        w.nested(LinkAttribute.linkinfo) { $0.string(LinkInfoAttribute.kind, "veth") }
        w.u8(LinkAttribute.operstate, 6)
        #expect(w.bytes == hex("10 00 12 00  09 00 01 00 76 65 74 68 00 00 00 00  05 00 10 00 06 00 00 00"))
        let outer = try AttributeReader.read(w.bytes[...])
        #expect(try outer[0].nested().first?.string == "veth")
        #expect(outer[1].u8 == 6)
    }
}
