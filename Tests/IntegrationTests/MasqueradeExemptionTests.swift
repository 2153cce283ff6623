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
        #expect(rules.contains("ip daddr 192.0.2.0/24 return"), "\(rules)")
        #expect(rules.contains("10.55.0.2 comment \""), "the pod's source is in the map")
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

    @Test("A pod masqueraded by the reference's rule layout stays masqueraded when the next ADD moves to maps")
    func migration() throws {
        let node = try Node("nmm")
        defer { node.tearDown() }
        let (old, new) = (try node.pod(), try node.pod())
        let out = try PtpTests().outside(node)
        func conf(masq: Bool) -> String {
            #"{"cniVersion":"1.0.0","name":"nmm","type":"ptp","ipMasq":\#(masq),"ipam":{"type":"host-local","subnet":"10.55.0.0/24","dataDir":"\#(node.dataDir)","routes":[{"dst":"0.0.0.0/0"}]}}"#
        }
        // The reference's nftables ipMasq rule for ctr1, whose address host-local hands out first.
        let hash = try Command.checked([
            "python3", "-c",
            "import hashlib;h=lambda s:hashlib.sha512(s.encode()).hexdigest()[:16];print(h('nmm')+'-'+h('eth0:ctr1'))",
        ]).trimmingCharacters(in: .whitespacesAndNewlines)
        let layout = """
            table inet cni_plugins_masquerade {
              chain masq_checks { ip saddr 10.55.0.2 ip daddr != 10.55.0.0/24 masquerade comment "\(hash), net: nmm, if: eth0, id: ctr1"; }
              chain postrouting {
                type nat hook postrouting priority 100;
                ip daddr 224.0.0.0/4 return; ip6 daddr ff00::/8 return; goto masq_checks;
              }
            }
            """
        _ = try Command.run(["ip", "netns", "exec", node.ns.name, "nft", "-f", "-"], stdin: layout)
        let first = try node.run("ptp", "ADD", config: conf(masq: false), id: "ctr1", pod: old)
        #expect(first.stdout.contains("10.55.0.2/24"), "\(first)")
        #expect(try sourceSeen(old, out) == "192.0.2.1", "the reference's rule masquerades")
        #expect(try node.run("ptp", "ADD", config: conf(masq: true), id: "ctr2", pod: new).status == 0)
        #expect(try node.nftRuleset().contains("vmap @masq_sources_v4"))
        #expect(try sourceSeen(old, out) == "192.0.2.1", "and still does once the node moved to the maps")
        #expect(try sourceSeen(new, out) == "192.0.2.1", "the new pod through the map")
        // No prevResult: DEL lists the maps and the rule chain for what the attachment left.
        #expect(try node.run("ptp", "DEL", config: conf(masq: true), id: "ctr1", pod: old).status == 0)
        #expect(try node.run("ptp", "DEL", config: conf(masq: true), id: "ctr2", pod: new).status == 0)
        let left = try node.nftRuleset()
        #expect(!left.contains("10.55.0.2") && !left.contains("10.55.0.3") && !left.contains("id: ctr"), "\(left)")
    }
}
