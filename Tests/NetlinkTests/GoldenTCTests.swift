import Testing
@testable import Netlink

@Suite("Golden bytes: tc qdiscs and the ingress redirect filter match tc")
struct GoldenTCTests {
    func sent(_ body: (RouteNetlink) throws(NetlinkError) -> Void) throws -> [UInt8] {
        let recorder = GoldenRequestTests.Recorder(replies: [GoldenRequestTests.ack(seq: 1)])
        try body(RouteNetlink(connection: NetlinkConnection(transport: recorder)))
        return recorder.sent.first ?? []
    }

    @Test("tbf with tc's rate table, at two rates (1mbit/32kb and 8000bit/1600)")
    func tbf() throws {
        let fast = QdiscSpec(index: 3, kind: .tbf(rate: 125_000, burst: 32 * 1024, limit: 65536))
        #expect(try sent { r throws(NetlinkError) in try r.addQdisc(fast) } == TCFixtures.tbf)
        let slow = QdiscSpec(index: 2, kind: .tbf(rate: 1000, burst: 1600, limit: 20000))
        #expect(try sent { r throws(NetlinkError) in try r.addQdisc(slow) } == TCFixtures.tbfOdd)
        let parsed = try TrafficObject(payload: #require(try NetlinkMessage.parse(TCFixtures.tbf).first).payload)
        var expected = TrafficObject(index: 3, handle: TCHandle.make(1, 0), parent: TCHandle.root, kind: "tbf")
        expected.tokenBucket = (rate: 125_000, limit: 65536, buffer: 4_096_000)
        #expect(parsed == expected)
    }

    @Test("ingress and clsact; deleting the ingress qdisc")
    func ingress() throws {
        #expect(
            try sent { r throws(NetlinkError) in try r.addQdisc(QdiscSpec(index: 3, kind: .ingress)) }
                == TCFixtures.ingress)
        #expect(
            try sent { r throws(NetlinkError) in try r.addQdisc(QdiscSpec(index: 2, kind: .clsact)) }
                == TCFixtures.clsact)
        #expect(
            try sent { r throws(NetlinkError) in try r.deleteQdisc(QdiscSpec(index: 3, kind: .ingress)) }
                == TCFixtures.deleteIngress)
    }

    @Test("u32 match-all with a mirred egress redirect to an ifb")
    func redirect() throws {
        let filter = RedirectFilterSpec(index: 3, targetIndex: 4)
        #expect(try sent { r throws(NetlinkError) in try r.addRedirectFilter(filter) } == TCFixtures.redirect)
        let parsed = try TrafficObject(payload: #require(try NetlinkMessage.parse(TCFixtures.redirect).first).payload)
        #expect(parsed.kind == "u32")
        #expect(parsed.parent == TCHandle.ingress)
    }

    @Test("tc's tick arithmetic: whole microseconds, then whole ticks")
    func ticks() {
        #expect(TokenBucket.transmitTicks(rate: 125_000, size: 8) == 1000)
        #expect(TokenBucket.transmitTicks(rate: 125_000, size: 1992) == 248_984)
    }
}
