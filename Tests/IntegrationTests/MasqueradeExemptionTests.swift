import Foundation
import Testing
import TestSupport

/// `nonMasqueradeCIDRs` (our extension): destinations that keep the pod's own address while
/// everything else is masqueraded, as a cluster needs for pod-to-pod traffic between nodes.
@Suite(
    "ipMasq with nonMasqueradeCIDRs", .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct MasqueradeExemptionTests {
    /// The source address a UDP listener at 192.0.2.2 in `out` sees for a datagram from `pod`.
    func sourceSeen(_ pod: TestNamespace, _ out: TestNamespace) throws -> String {
        let script =
            "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(('192.0.2.2',5998));s.settimeout(5);print(s.recvfrom(64)[1][0])"
        let listener = Thread.detachedResult { try out.run(["python3", "-c", script]) }
        let sender =
            "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor _ in range(15):\n    s.sendto(b'hi',('192.0.2.2',5998)); time.sleep(0.2)"
        _ = try pod.run(["python3", "-c", sender])
        return try listener.wait().stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(
        "An exempt destination sees the pod's address; without the exemption it sees the node's",
        arguments: ["ptp", "bridge"])
    func exemption(plugin: String) throws {
        let node = try Node("nmq")
        defer { node.tearDown() }
        let pod = try node.pod()
        let out = try PtpTests().outside(node)
        let ipam =
            #""ipam":{"type":"host-local","subnet":"10.55.0.0/24","dataDir":"\#(node.dataDir)","routes":[{"dst":"0.0.0.0/0"}]}"#
        let bridge = plugin == "bridge" ? #""bridge":"cnitnmq0","isGateway":true,"# : ""
        func conf(_ exempt: String) -> String {
            #"{"cniVersion":"1.0.0","name":"nmq","type":"\#(plugin)","ipMasq":true,\#(bridge)"nonMasqueradeCIDRs":\#(exempt),\#(ipam)}"#
        }
        let exempt = conf(#"["192.0.2.0/24","fd00:55::/64"]"#)
        let added = try node.run(plugin, "ADD", config: exempt, id: "ctr1", pod: pod)
        #expect(added.status == 0, "\(added)")
        let rules = try node.nftRuleset()
        #expect(rules.contains("ip saddr 10.55.0.2 ip daddr 192.0.2.0/24 return"), "\(rules)")
        #expect(try sourceSeen(pod, out) == "10.55.0.2", "no NAT toward the exempt network")
        #expect(
            try node.run(
                plugin, "CHECK", config: String(exempt.dropLast()) + #","prevResult":\#(added.stdout)}"#,
                id: "ctr1", pod: pod
            ).status == 0)
        #expect(try node.run(plugin, "DEL", config: exempt, id: "ctr1", pod: pod).status == 0)
        #expect(try !node.nftRuleset().contains("10.55.0.2"), "DEL removes the exemption too")
        #expect(try node.run(plugin, "ADD", config: conf("[]"), id: "ctr2", pod: pod).status == 0)
        #expect(try sourceSeen(pod, out) == "192.0.2.1", "masqueraded to the node's address")
        #expect(try node.run(plugin, "DEL", config: conf("[]"), id: "ctr2", pod: pod).status == 0)
        let bad = try node.run(plugin, "ADD", config: conf(#"["10.0.0.0/99"]"#), id: "ctr3", pod: pod)
        #expect(try bad.object()["code"] as? Int == 7)
        #expect("\(try bad.object())".contains("nonMasqueradeCIDRs"))
    }
}
