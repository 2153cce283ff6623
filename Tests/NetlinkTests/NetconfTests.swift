import Netlink
import Testing

@Suite("RTM_GETNETCONF: IPv4 forwarding of the namespace")
struct NetconfTests {
    typealias Recorder = GoldenRequestTests.Recorder

    /// `RTM_NEWNETCONF` as the kernel answers (captured with strace from `ip -4 netconf show
    /// dev lo`, ifindex and forwarding edited): netconfmsg, IFINDEX, FORWARDING.
    static func reply(forwarding: UInt8) -> [UInt8] {
        NetlinkMessage(
            type: .newNetconf, flags: [], sequence: 1, portID: 4242,
            payload: [2, 0, 0, 0] + [8, 0, 1, 0, 0xff, 0xff, 0xff, 0xff] + [8, 0, 2, 0, forwarding, 0, 0, 0]
        ).encoded()
    }

    @Test("The request is iproute2's for NETCONFA_IFINDEX_ALL; the reply's NETCONFA_FORWARDING is read")
    func requestAndReply() throws {
        for on: UInt8 in [0, 1] {
            let recorder = Recorder(replies: [Self.reply(forwarding: on)])
            let route = RouteNetlink(connection: NetlinkConnection(transport: recorder))
            #expect(try route.ipv4Forwarding() == (on == 1))
            #expect(recorder.sent.first == Fixtures.getNetconfAll)
        }
        let refused = Recorder(replies: [GoldenRequestTests.ack(seq: 1)])
        #expect(throws: NetlinkError.self) {
            try RouteNetlink(connection: NetlinkConnection(transport: refused)).ipv4Forwarding()
        }
    }
}
