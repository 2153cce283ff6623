import Foundation
import Testing
import TestSupport

/// bandwidth with the values real runtimes send: containerd adds bursts of 2^32-1 bits to
/// every annotated pod whatever its rate, which once trapped the tick conversion (SIGILL).
@Suite(
    "bandwidth with extreme rates and bursts: never a signal, CHECK passes after ADD",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct BandwidthExtremesTests {
    static let cases: [(rate: UInt64, burst: UInt64, clamped: Bool)] = [
        (1_000, 4_294_967_295, true), (8_000, 4_294_967_295, true), (1_000_000, 4_294_967_295, true),
        (10_000_000, 4_294_967_295, true), (16_000_000, 4_294_967_295, false), (1_000_000_000, 4_294_967_295, false),
        (10_000_000, 2_147_483_647, false), (1_000, 2_147_483_647, true), (8_000, 2_400_000, true),
        (8_000, 2_000_000, false),
        (34_359_738_367, 34_359_738_359, false), (8, 8, false), (8, 34_359_738_359, true),
    ]

    @Test("containerd-style runtimeConfig bursts and static values are installed, clamped where tbf cannot hold them")
    func extremes() throws {
        let node = try Node("bwx")
        defer { node.tearDown() }
        let pod = try node.pod()
        let bridge =
            #"{"cniVersion":"1.0.0","name":"bwx","type":"bridge","bridge":"cnitbr9","ipam":{"type":"host-local","subnet":"10.68.0.0/24","dataDir":"\#(node.dataDir)"}}"#
        let added = try node.run("bridge", "ADD", config: bridge, id: "ctr1", pod: pod)
        #expect(added.status == 0, "\(added)")
        let hostVeth = (try added.object()["interfaces"] as? [[String: Any]])?[1]["name"] as? String ?? ""
        for (index, item) in Self.cases.enumerated() {
            let limits =
                #""IngressRate":\#(item.rate),"IngressBurst":\#(item.burst),"EgressRate":\#(item.rate),"EgressBurst":\#(item.burst)"#
            // Odd cases use static top-level keys, even ones containerd's runtimeConfig.
            let keys = index % 2 == 1 ? "," + limits : #","runtimeConfig":{"bandwidth":{\#(limits)}}"#
            let conf = #"{"cniVersion":"1.0.0","name":"bwx","type":"bandwidth"\#(keys),"prevResult":\#(added.stdout)}"#
            let shaped = try node.run("bandwidth", "ADD", config: conf, id: "ctr1", pod: pod)
            #expect(shaped.status == 0, "rate \(item.rate) burst \(item.burst): \(shaped)")
            #expect(shaped.stderr.contains("more than tbf can hold") == item.clamped, "\(item): \(shaped.stderr)")
            guard shaped.status == 0 else { continue }
            let withPrev =
                #"{"cniVersion":"1.0.0","name":"bwx","type":"bandwidth"\#(keys),"prevResult":\#(shaped.stdout)}"#
            let checked = try node.run("bandwidth", "CHECK", config: withPrev, id: "ctr1", pod: pod)
            #expect(checked.status == 0, "CHECK after ADD, rate \(item.rate) burst \(item.burst): \(checked)")
            #expect(try node.run("bandwidth", "DEL", config: withPrev, id: "ctr1", pod: pod).status == 0)
            for parent in ["root", "ingress"] {
                _ = try node.ns.run(["tc", "qdisc", "del", "dev", hostVeth, parent])
            }
        }
        #expect(try node.run("bridge", "DEL", config: bridge, id: "ctr1", pod: pod).status == 0)
        #expect(try node.links() == ["cnitbr9"])
    }

    @Test("A burst too small for its rate is error 7 naming the key; nothing is created")
    func tooSmall() throws {
        let node = try Node("bws")
        defer { node.tearDown() }
        let pod = try node.pod()
        let bridge =
            #"{"cniVersion":"1.0.0","name":"bws","type":"bridge","bridge":"cnitbr9","ipam":{"type":"host-local","subnet":"10.68.0.0/24","dataDir":"\#(node.dataDir)"}}"#
        let added = try node.run("bridge", "ADD", config: bridge, id: "ctr1", pod: pod)
        let conf =
            #"{"cniVersion":"1.0.0","name":"bws","type":"bandwidth","ingressRate":34359738360,"ingressBurst":8,"prevResult":\#(added.stdout)}"#
        let result = try node.run("bandwidth", "ADD", config: conf, id: "ctr1", pod: pod)
        #expect(result.status == 1)
        #expect(try result.object()["code"] as? Int == 7)
        #expect((try result.object()["msg"] as? String)?.contains("ingressBurst") == true, "\(result)")
        let rate =
            #"{"cniVersion":"1.0.0","name":"bws","type":"bandwidth","egressRate":7,"egressBurst":8,"prevResult":\#(added.stdout)}"#
        let slow = try node.run("bandwidth", "ADD", config: rate, id: "ctr1", pod: pod)
        #expect((try slow.object()["msg"] as? String)?.contains("egressRate") == true, "\(slow)")
        #expect(try !node.links().contains { $0.hasPrefix("bwp") })
    }
}
