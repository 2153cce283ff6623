import Testing
@testable import Netlink

/// Requests compared with what iproute2 6.1 sends. Each fixture was captured with
/// `strace -e trace=sendmsg,sendto -s 300 -xx <command>` inside a scratch netns; only the
/// sequence number differs (iproute2 uses the time; ours is injected as 1).
@Suite("Golden bytes: requests match iproute2")
struct GoldenRequestTests {
    /// Captures what a connection sends, and answers with a canned reply.
    final class Recorder: NetlinkTransport {
        let portID: UInt32 = 4242
        var sent: [[UInt8]] = []
        var replies: [[UInt8]]
        init(replies: [[UInt8]]) { self.replies = replies }
        func send(_ bytes: [UInt8]) throws(NetlinkError) { sent.append(bytes) }
        func receive() throws(NetlinkError) -> [UInt8] {
            guard !replies.isEmpty else { throw NetlinkError(kind: .system, operation: "recv", errno: .interrupted) }
            return replies.removeFirst()
        }
    }

    static func ack(seq: UInt32, port: UInt32 = 4242) -> [UInt8] {
        NetlinkMessage(
            type: .error, flags: [], sequence: seq, portID: port,
            payload: [0, 0, 0, 0] + [UInt8](repeating: 0, count: 16)
        ).encoded()
    }

    // ip link show dev lo
    static let getLinkLo = hex(
        """
        30 00 00 00  12 00  01 00  01 00 00 00  00 00 00 00   // nlmsghdr: len 48, RTM_GETLINK, NLM_F_REQUEST, seq 1
        11 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00    // ifinfomsg: AF_PACKET, index 0
        07 00 03 00  6c 6f 00 00                              // IFLA_IFNAME "lo"
        08 00 1d 00  01 00 00 00                              // IFLA_EXT_MASK RTEXT_FILTER_VF
        """)

    // ip link set dev lo up
    static let setLoUp = hex(
        """
        20 00 00 00  10 00  05 00  01 00 00 00  00 00 00 00   // RTM_NEWLINK, NLM_F_REQUEST|NLM_F_ACK, seq 1
        00 00 00 00  01 00 00 00  01 00 00 00  01 00 00 00    // ifinfomsg: index 1, flags IFF_UP, change IFF_UP
        """)

    // ip link set dev lo down
    static let setLoDown = hex(
        """
        20 00 00 00  10 00  05 00  01 00 00 00  00 00 00 00
        00 00 00 00  01 00 00 00  00 00 00 00  01 00 00 00    // flags 0, change IFF_UP
        """)

    // ip -4 addr show dev lo
    static let getAddrLo = hex(
        """
        18 00 00 00  16 00  01 03  01 00 00 00  00 00 00 00   // RTM_GETADDR, NLM_F_REQUEST|NLM_F_DUMP, seq 1
        02 00 00 00  01 00 00 00                              // ifaddrmsg: AF_INET, index 1
        """)

    @Test("ip link show dev lo")
    func getLink() throws {
        let emitted = NetlinkMessage(
            type: .getLink, flags: .request, sequence: 1, payload: RouteNetlink.getLinkRequest(name: "lo")
        ).encoded()
        #expect(emitted == Self.getLinkLo)
        let parsed = try #require(try NetlinkMessage.parse(Self.getLinkLo).first)
        #expect(parsed.type == .getLink)
        #expect(try InterfaceInfoHeader(decoding: parsed.payload[...]) == InterfaceInfoHeader(family: .packet))
        let attributes = try AttributeReader.read(parsed.payload.dropFirst(16))
        #expect(
            attributes == [
                Attribute(type: 3, payload: Array("lo\0".utf8)), Attribute(type: 29, payload: [1, 0, 0, 0]),
            ])
    }

    @Test("ip link set dev lo up / down", arguments: [(true, setLoUp), (false, setLoDown)])
    func setState(up: Bool, golden: [UInt8]) throws {
        let recorder = Recorder(replies: [Self.ack(seq: 1)])
        try RouteNetlink(connection: NetlinkConnection(transport: recorder)).setLink(index: 1, up: up)
        #expect(recorder.sent == [golden])
        let parsed = try #require(try NetlinkMessage.parse(golden).first)
        #expect(
            try InterfaceInfoHeader(decoding: parsed.payload[...])
                == InterfaceInfoHeader(index: 1, flags: up ? .up : [], change: .up))
    }

    @Test("ip -4 addr show dev lo")
    func getAddresses() throws {
        let done = NetlinkMessage(type: .done, flags: .multi, sequence: 1, portID: 4242, payload: [0, 0, 0, 0])
            .encoded()
        let recorder = Recorder(replies: [done])
        let addresses = try RouteNetlink(connection: NetlinkConnection(transport: recorder)).addresses(
            family: .inet, index: 1)
        #expect(addresses.isEmpty)
        #expect(recorder.sent == [Self.getAddrLo])
        let parsed = try #require(try NetlinkMessage.parse(Self.getAddrLo).first)
        #expect(try AddressHeader(decoding: parsed.payload[...]) == AddressHeader(family: .inet, index: 1))
    }
}
