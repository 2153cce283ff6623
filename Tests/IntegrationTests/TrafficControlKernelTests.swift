import Foundation
import Netlink
import Testing
import TestSupport

@Suite("tc against the kernel", .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct TrafficControlKernelTests {
    func tcJSON(_ ns: TestNamespace, _ args: [String]) throws -> [[String: Any]] {
        let out = try Command.checked(["ip", "netns", "exec", ns.name, "tc", "-j"] + args)
        return (try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]]) ?? []
    }

    @Test("tbf, ingress with a redirect to an ifb, and clsact, compared with tc -j; then removed")
    func shaping() throws {
        let ns = try TestNamespace("tc")
        defer { try? ns.remove() }
        let route = try NetworkNamespace(path: ns.path).withEntered { try RouteNetlink() }
        try route.addLink(LinkSpec(name: "cnitp0", kind: .veth(peer: VethPeer(name: "cnitp1"))))
        try route.addLink(LinkSpec(name: "cnitifb0", kind: .ifb))
        let veth = try route.link(named: "cnitp0").index
        let peer = try route.link(named: "cnitp1").index
        let ifb = try route.link(named: "cnitifb0").index

        try route.addQdisc(QdiscSpec(index: ifb, kind: .tbf(rate: 125_000, burst: 32 * 1024, limit: 65536)))
        try route.addQdisc(QdiscSpec(index: veth, kind: .ingress))
        try route.addRedirectFilter(RedirectFilterSpec(index: veth, targetIndex: ifb))
        try route.addQdisc(QdiscSpec(index: peer, kind: .clsact))

        let tbf = try tcJSON(ns, ["qdisc", "show", "dev", "cnitifb0"]).first { $0["kind"] as? String == "tbf" }
        let options = tbf?["options"] as? [String: Any]
        #expect(options?["rate"] as? Int == 125_000)
        #expect(options?["burst"] as? Int == 32 * 1024)
        // tc -j reports the limit as a latency: 65536 - 32768 bytes at 125000 B/s = 262144 us.
        #expect(options?["lat"] as? Int == 262_144)
        #expect(try tcJSON(ns, ["qdisc", "show", "dev", "cnitp0"]).contains { $0["kind"] as? String == "ingress" })
        #expect(try tcJSON(ns, ["qdisc", "show", "dev", "cnitp1"]).contains { $0["kind"] as? String == "clsact" })
        let filters = try Command.checked([
            "ip", "netns", "exec", ns.name, "tc", "filter", "show", "dev", "cnitp0", "parent", "ffff:",
        ])
        #expect(filters.contains("mirred (Egress Redirect to device cnitifb0)"))

        #expect(try route.qdiscs(index: ifb).contains { $0.kind == "tbf" && $0.parent == TCHandle.root })
        #expect(try route.filters(index: veth, parent: TCHandle.ingress).contains { $0.kind == "u32" })

        try route.deleteQdisc(QdiscSpec(index: veth, kind: .ingress))
        #expect(!(try tcJSON(ns, ["qdisc", "show", "dev", "cnitp0"])).contains { $0["kind"] as? String == "ingress" })
        do {
            try route.deleteQdisc(QdiscSpec(index: veth, kind: .ingress))
            Issue.record("deleting a missing qdisc must fail")
        } catch {
            #expect(error.kind == .kernel)
        }
    }
}
