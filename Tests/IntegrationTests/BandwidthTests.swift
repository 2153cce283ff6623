import Foundation
import Testing
import TestSupport

@Suite(
    "bandwidth after bridge: tbf on the host veth, IFB for egress",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct BandwidthTests {
    func tcJSON(_ node: Node, _ args: [String]) throws -> [[String: Any]] {
        let out = try Command.checked(["ip", "netns", "exec", node.ns.name, "tc", "-j"] + args)
        return (try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]]) ?? []
    }

    @Test("ADD shapes both directions, CHECK passes, DEL removes the IFB", arguments: ["top-level", "runtimeConfig"])
    func shaping(source: String) throws {
        let node = try Node("bwn")
        defer { node.tearDown() }
        let pod = try node.pod()
        let bridge =
            #"{"cniVersion":"1.0.0","name":"bwnet","type":"bridge","bridge":"cnitbr8","isGateway":true,"ipam":{"type":"host-local","subnet":"10.67.0.0/24","dataDir":"\#(node.dataDir)"}}"#
        let added = try node.run("bridge", "ADD", config: bridge, id: "ctr1", pod: pod)
        #expect(added.status == 0, "\(added)")
        let limits = #""ingressRate":8000000,"ingressBurst":800000,"egressRate":16000000,"egressBurst":1600000"#
        let keys = source == "top-level" ? "," + limits : #","runtimeConfig":{"bandwidth":{\#(limits)}}"#
        let conf = #"{"cniVersion":"1.0.0","name":"bwnet","type":"bandwidth"\#(keys),"prevResult":\#(added.stdout)}"#
        let shaped = try node.run("bandwidth", "ADD", config: conf, id: "ctr1", pod: pod)
        #expect(shaped.status == 0, "\(shaped)")
        let interfaces = try shaped.object()["interfaces"] as? [[String: Any]] ?? []
        let ifb = interfaces.last?["name"] as? String ?? ""
        #expect(ifb.hasPrefix("bwp") && ifb.count == 15)
        let hostVeth = interfaces[1]["name"] as? String ?? ""
        let ingress = try tcJSON(node, ["qdisc", "show", "dev", hostVeth]).first { $0["kind"] as? String == "tbf" }
        #expect((ingress?["options"] as? [String: Any])?["rate"] as? Int == 1_000_000)
        let egress = try tcJSON(node, ["qdisc", "show", "dev", ifb]).first { $0["kind"] as? String == "tbf" }
        #expect((egress?["options"] as? [String: Any])?["rate"] as? Int == 2_000_000)
        let filters = try Command.checked([
            "ip", "netns", "exec", node.ns.name, "tc", "filter", "show", "dev", hostVeth, "parent", "ffff:",
        ])
        #expect(filters.contains("Egress Redirect to device \(ifb)"))
        let withPrev =
            #"{"cniVersion":"1.0.0","name":"bwnet","type":"bandwidth"\#(keys),"prevResult":\#(shaped.stdout)}"#
        #expect(try node.run("bandwidth", "CHECK", config: withPrev, id: "ctr1", pod: pod).status == 0)
        #expect(try ping(pod, "10.67.0.1"), "traffic still flows through the shapers")
        #expect(try node.run("bandwidth", "DEL", config: withPrev, id: "ctr1", pod: pod).status == 0)
        #expect(try !node.links().contains(ifb))
        #expect(try node.run("bandwidth", "CHECK", config: withPrev, id: "ctr1", pod: pod).status == 1)
        #expect(try node.run("bandwidth", "DEL", config: withPrev, id: "ctr1", pod: pod).status == 0)
    }

    @Test(
        "Bad limits are error 7; versions below 0.3.0 are refused",
        arguments: [
            (#""ingressRate":1000"#, "if rate is set, burst must also be set"),
            (#""egressBurst":1000"#, "if burst is set, rate must also be set"),
            (#""egressRate":1000,"egressBurst":40000000000"#, "burst cannot be more than 4GB"),
        ])
    func invalid(keys: String, message: String) throws {
        var invocation = PluginInvocation(plugin: "bandwidth", command: "ADD")
        invocation.netns = "/run/netns/cnit-none"
        let result = try invocation.run(
            stdin: #"{"cniVersion":"1.0.0","name":"bwnet","type":"bandwidth",\#(keys),"prevResult":{}}"#)
        #expect(try result.object()["code"] as? Int == 7)
        #expect((try result.object()["msg"] as? String) == message)
        let old = try invocation.run(stdin: #"{"cniVersion":"0.2.0","name":"bwnet","type":"bandwidth"}"#)
        #expect(try old.object()["code"] as? Int == 1)
    }
}
