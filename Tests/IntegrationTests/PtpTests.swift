import Foundation
import Testing
import TestSupport

@Suite(
    "ptp in real namespaces: routing through the gateway, masquerade, DEL, rollback",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct PtpTests {
    func config(_ node: Node, masq: Bool = true, subnet: String = "10.76.0.0/24", version: String = "1.0.0") -> String {
        #"{"cniVersion":"\#(version)","name":"ptpnet","type":"ptp","ipMasq":\#(masq),"ipam":{"type":"host-local","subnet":"\#(subnet)","dataDir":"\#(node.dataDir)","routes":[{"dst":"0.0.0.0/0"}]}}"#
    }

    /// An "outside" namespace linked to the node, with no route back to the pod subnet.
    func outside(_ node: Node) throws -> TestNamespace {
        let out = try node.pod("out")
        try Command.checked([
            "ip", "-n", node.ns.name, "link", "add", "cnitup0", "type", "veth", "peer", "name", "cnitdown0", "netns",
            out.name,
        ])
        try Command.checked(["ip", "-n", node.ns.name, "addr", "add", "192.0.2.1/24", "dev", "cnitup0"])
        try Command.checked(["ip", "-n", node.ns.name, "link", "set", "cnitup0", "up"])
        try Command.checked(["ip", "-n", out.name, "addr", "add", "192.0.2.2/24", "dev", "cnitdown0"])
        try Command.checked(["ip", "-n", out.name, "link", "set", "cnitdown0", "up"])
        return out
    }

    @Test("With ipMasq a pod reaches an outside namespace that has no route back, arriving with the node's address")
    func masquerade() throws {
        let node = try Node("ptm")
        defer { node.tearDown() }
        let pod = try node.pod()
        let out = try outside(node)
        let added = try node.run("ptp", "ADD", config: config(node), id: "ctr1", pod: pod)
        #expect(added.status == 0, "\(added)")
        let result = try added.object()
        #expect((result["interfaces"] as? [[String: Any]])?.count == 2)
        #expect((result["ips"] as? [[String: Any]])?.first?["interface"] as? Int == 1)
        // A UDP listener outside records the source address of what arrives.
        let script =
            "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(('192.0.2.2',5999));s.settimeout(5);print(s.recvfrom(64)[1][0])"
        let listener = Thread.detachedResult { try out.run(["python3", "-c", script]) }
        // Send a few times: under load the listener may bind a little later.
        let sender =
            "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor _ in range(15):\n    s.sendto(b'hi',('192.0.2.2',5999)); time.sleep(0.2)"
        _ = try pod.run(["python3", "-c", sender])
        let seen = try listener.wait()
        #expect(seen.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "192.0.2.1", "\(seen)")
        #expect(try ping(pod, "192.0.2.2"))
        #expect(try ping(node.ns, "10.76.0.2"))

        #expect(try node.run("ptp", "DEL", config: config(node), id: "ctr1", pod: pod).status == 0)
        #expect(try node.run("ptp", "DEL", config: config(node), id: "ctr1", pod: pod).status == 0)
        #expect(try node.links() == ["cnitup0"])
        #expect(try !node.nftRuleset().contains("id: ctr1"))
        #expect(node.reservations("ptpnet").isEmpty)
    }

    @Test("Without ipMasq the same traffic leaves with the pod's own address; no nftables work")
    func noMasquerade() throws {
        let node = try Node("ptn")
        defer { node.tearDown() }
        let pod = try node.pod()
        _ = try outside(node)
        #expect(try node.run("ptp", "ADD", config: config(node, masq: false), id: "ctr1", pod: pod).status == 0)
        #expect(try !node.nftRuleset().contains("cni_plugins_masquerade"))
        let routes = try pod.ipJSON(["route", "show"])
        #expect(routes.contains { $0["dst"] as? String == "10.76.0.0/24" && $0["gateway"] as? String == "10.76.0.1" })
        #expect(routes.contains { $0["dst"] as? String == "10.76.0.1" && $0["scope"] as? String == "link" })
        #expect(try node.run("ptp", "DEL", config: config(node, masq: false), id: "ctr1", pod: pod).status == 0)
    }

    @Test("IPAM exhausted: nothing left; CHECK after ADD passes", arguments: ["0.4.0", "1.1.0"])
    func rollbackAndCheck(version: String) throws {
        let node = try Node("ptr")
        defer { node.tearDown() }
        let a = try node.pod(), b = try node.pod()
        let conf = config(node, subnet: "10.76.0.0/30", version: version)
        let added = try node.run("ptp", "ADD", config: conf, id: "ctr1", pod: a)
        #expect(added.status == 0, "\(added)")
        let withPrev = String(conf.dropLast()) + #","prevResult":\#(added.stdout)}"#
        #expect(try node.run("ptp", "CHECK", config: withPrev, id: "ctr1", pod: a).status == 0)
        let failed = try node.run("ptp", "ADD", config: conf, id: "ctr-fail", pod: b)
        #expect(failed.status == 1)
        #expect(try b.ipJSON(["link", "show"]).count == 1)
        #expect(try node.links().count == 1)
        #expect(try !node.nftRuleset().contains("id: ctr-fail"))
    }
}
