import Foundation
import Testing
import TestSupport

@Suite(
    "portmap after bridge: TCP through mapped ports from outside, the node and localhost",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct PortmapTests {
    /// A node with an uplink to an "outside" namespace (192.0.2.1 <-> 192.0.2.2).
    func uplink(_ node: Node) throws -> TestNamespace {
        let out = try node.pod("pmo")
        try Command.checked([
            "ip", "-n", node.ns.name, "link", "add", "cnitup0", "type", "veth", "peer", "name", "cnitdown0", "netns",
            out.name,
        ])
        try Command.checked(["ip", "-n", node.ns.name, "addr", "add", "192.0.2.1/24", "dev", "cnitup0"])
        for (ns, dev) in [(node.ns.name, "cnitup0"), (node.ns.name, "lo"), (out.name, "cnitdown0")] {
            try Command.checked(["ip", "-n", ns, "link", "set", dev, "up"])
        }
        try Command.checked(["ip", "-n", out.name, "addr", "add", "192.0.2.2/24", "dev", "cnitdown0"])
        return out
    }

    func chain(_ node: Node, _ pod: TestNamespace, mappings: String, extra: String = "") throws -> (
        bridge: String, portmap: String
    ) {
        let bridge =
            #"{"cniVersion":"1.0.0","name":"pmnet","type":"bridge","bridge":"cnitbr7","isDefaultGateway":true,"ipam":{"type":"host-local","subnet":"10.68.0.0/24","dataDir":"\#(node.dataDir)"}}"#
        let added = try node.run("bridge", "ADD", config: bridge, id: "ctr1", pod: pod)
        guard added.status == 0 else { throw TestFailure("bridge: \(added)") }
        let portmap =
            #"{"cniVersion":"1.0.0","name":"pmnet","type":"portmap"\#(extra),"runtimeConfig":{"portMappings":\#(mappings)},"prevResult":\#(added.stdout)}"#
        return (bridge, portmap)
    }

    /// Serves `count` TCP connections on port 80 in `pod`, answering with the peer address.
    func serve(_ pod: TestNamespace, count: Int) -> Thread.Pending<CommandResult> {
        let script = """
            import socket
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(('0.0.0.0', 80)); s.listen(8); s.settimeout(10)
            for _ in range(\(count)):
                c, a = s.accept(); c.send(('from ' + a[0]).encode()); c.close()
            """
        let pending = Thread.detachedResult { try pod.run(["python3", "-c", script]) }
        usleep(400_000)
        return pending
    }

    func connect(_ from: TestNamespace, _ address: String, _ port: Int) throws -> String {
        let script =
            "import socket,time\nfor _ in range(20):\n    try:\n        s=socket.create_connection(('\(address)',\(port)),2); print(s.recv(64).decode()); break\n    except OSError: time.sleep(0.2)"
        return try from.run(["python3", "-c", script]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(
        "hostPort reaches the pod from outside (keeping the client address), from the node, and from localhost; DEL removes the rules"
    )
    func forwarding() throws {
        let node = try Node("pmf")
        defer { node.tearDown() }
        let pod = try node.pod()
        let out = try uplink(node)
        let (_, portmap) = try chain(
            node, pod,
            mappings:
                #"[{"HostPort":8080,"ContainerPort":80,"Protocol":"tcp"},{"hostPort":5353,"containerPort":53,"protocol":"udp"}]"#
        )
        let added = try node.run("portmap", "ADD", config: portmap, id: "ctr1", pod: pod)
        #expect(added.status == 0, "\(added)")
        let rules = try node.nftRuleset()
        #expect(rules.contains("tcp . 8080 comment \"ctr1\" : 10.68.0.2 . 80"), "\(rules)")
        #expect(rules.contains("udp . 5353 comment \"ctr1\" : 10.68.0.2 . 53"))
        let withPrev = String(portmap.dropLast()) + "}"
        #expect(try node.run("portmap", "CHECK", config: withPrev, id: "ctr1", pod: pod).status == 0)

        let server = serve(pod, count: 3)
        #expect(try connect(out, "192.0.2.1", 8080) == "from 192.0.2.2", "DNAT keeps the outside client's address")
        #expect(try connect(node.ns, "192.0.2.1", 8080) == "from 192.0.2.1")
        #expect(try connect(node.ns, "127.0.0.1", 8080) == "from 10.68.0.1", "localhost is masqueraded to the gateway")
        _ = try server.wait()

        #expect(try node.run("portmap", "DEL", config: withPrev, id: "ctr1", pod: pod).status == 0)
        #expect(try node.run("portmap", "DEL", config: withPrev, id: "ctr1", pod: pod).status == 0)
        #expect(try !node.nftRuleset().contains("comment \"ctr1\""))
        #expect(try node.run("portmap", "CHECK", config: withPrev, id: "ctr1", pod: pod).status == 1)
    }

    @Test("Without mappings portmap passes prevResult through and touches no netfilter state")
    func noMappings() throws {
        let node = try Node("pmn")
        defer { node.tearDown() }
        let pod = try node.pod()
        let (_, portmap) = try chain(node, pod, mappings: "[]")
        let added = try node.run("portmap", "ADD", config: portmap, id: "ctr1", pod: pod)
        #expect(added.status == 0)
        #expect((try added.object()["ips"] as? [[String: Any]])?.count == 1)
        #expect(try !node.nftRuleset().contains("cni_hostport"))
        let status = #"{"cniVersion":"1.1.0","name":"pmnet","type":"portmap"}"#
        #expect(try node.run("portmap", "STATUS", config: status, id: "", pod: nil).status == 0, "nftables answers")
    }

    @Test(
        "Invalid mappings and options are error 7; without prevResult ADD fails",
        arguments: [
            (#"[{"hostPort":0,"containerPort":80,"protocol":"tcp"}]"#, "", "Invalid host port number: 0"),
            (#"[{"hostPort":80,"containerPort":-1,"protocol":"tcp"}]"#, "", "Invalid container port number: -1"),
            (#"[{"hostPort":80,"containerPort":80,"protocol":"icmp"}]"#, "", "unsupported protocol"),
            (#"[]"#, #","backend":"pf""#, "unrecognized backend"),
            (#"[]"#, #","markMasqBit":40"#, "MasqMarkBit must be between 0 and 31"),
        ])
    func invalid(mappings: String, extra: String, message: String) throws {
        let node = try Node("pmi")
        defer { node.tearDown() }
        let pod = try node.pod()
        let (_, portmap) = try chain(node, pod, mappings: mappings, extra: extra)
        let result = try node.run("portmap", "ADD", config: portmap, id: "ctr1", pod: pod)
        #expect(result.status == 1)
        #expect(try result.object()["code"] as? Int == 7)
        #expect((try result.object()["msg"] as? String)?.contains(message) == true, "\(result)")
        let noPrev =
            #"{"cniVersion":"1.0.0","name":"pmnet","type":"portmap","runtimeConfig":{"portMappings":[{"hostPort":1,"containerPort":1}]}}"#
        #expect(
            (try node.run("portmap", "ADD", config: noPrev, id: "ctr1", pod: pod).object()["msg"] as? String)
                == "must be called as chained plugin")
    }

    /// What portmap (ours before maps, and the reference's nftables backend) left for ctr1.
    static let ruleLayout = """
        table ip cni_hostport {
          chain hostports { tcp dport 8080 dnat to 10.68.0.2:80 comment "ctr1"; }
          chain hostip_hostports { }
          chain hostports_all { jump hostip_hostports; jump hostports; }
          chain prerouting { type nat hook prerouting priority -100; fib daddr type local jump hostports_all; }
          chain output { type nat hook output priority -100; fib daddr type local jump hostports_all; }
          chain masquerading {
            type nat hook postrouting priority 100;
            ip saddr 10.68.0.2 ip daddr 10.68.0.2 masquerade comment "ctr1"
            ip saddr 127.0.0.1 ip daddr 10.68.0.2 masquerade comment "ctr1"
          }
        }
        """

    @Test(
        "A pod mapped by the rule layout keeps its traffic when the next ADD moves the node to maps; DEL removes both")
    func migration() throws {
        let node = try Node("pmm")
        defer { node.tearDown() }
        let old = try node.pod()
        let out = try uplink(node)
        let (bridge, _) = try chain(node, old, mappings: "[]")
        _ = try Command.run(["ip", "netns", "exec", node.ns.name, "nft", "-f", "-"], stdin: Self.ruleLayout)
        #expect(try node.nftRuleset().contains("comment \"ctr1\""), "the old layout is in place")
        let new = try node.pod()
        let added = try node.run("bridge", "ADD", config: bridge, id: "ctr2", pod: new)
        #expect(added.status == 0, "\(added)")
        let portmap =
            #"{"cniVersion":"1.0.0","name":"pmnet","type":"portmap","runtimeConfig":{"portMappings":[{"hostPort":8081,"containerPort":80}]},"prevResult":\#(added.stdout)}"#
        #expect(try node.run("portmap", "ADD", config: portmap, id: "ctr2", pod: new).status == 0)
        let rules = try node.nftRuleset()
        #expect(rules.contains("dnat ip to meta l4proto . th dport map @hostport_map"), "\(rules)")

        let servers = [serve(old, count: 2), serve(new, count: 1)]
        #expect(try connect(out, "192.0.2.1", 8080) == "from 192.0.2.2", "the old rule still DNATs")
        #expect(try connect(node.ns, "127.0.0.1", 8080) == "from 10.68.0.1", "and its localhost masquerading")
        #expect(try connect(out, "192.0.2.1", 8081) == "from 192.0.2.2", "the new pod through the map")
        for server in servers { _ = try server.wait() }

        let oldConf =
            #"{"cniVersion":"1.0.0","name":"pmnet","type":"portmap","runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80}]}}"#
        #expect(try node.run("portmap", "DEL", config: oldConf, id: "ctr1", pod: old).status == 0)
        #expect(try node.run("portmap", "DEL", config: portmap, id: "ctr2", pod: new).status == 0)
        let left = try node.nftRuleset()
        #expect(!left.contains("ctr1") && !left.contains("ctr2"), "\(left)")
        for (id, pod) in [("ctr1", old), ("ctr2", new)] {
            #expect(try node.run("bridge", "DEL", config: bridge, id: id, pod: pod).status == 0)
        }
    }

    @Test("A late DEL racing the ADD of the address's next holder never takes that holder's masquerading")
    func lateDelRacesNewHolder() throws {
        let node = try Node("pmr")
        defer { node.tearDown() }
        let pod = try node.pod()
        @Sendable func conf(_ port: Int) -> String {
            #"{"cniVersion":"1.0.0","name":"pmnet","type":"portmap","runtimeConfig":{"portMappings":[{"hostPort":\#(port),"containerPort":80}]},"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/x"}],"ips":[{"address":"10.68.3.2/24","interface":0}]}}"#
        }
        for round in 0..<20 {
            #expect(try node.run("portmap", "ADD", config: conf(7000), id: "old\(round)", pod: pod).status == 0)
            let late = Thread.detachedResult {
                try node.run("portmap", "DEL", config: conf(7000), id: "old\(round)", pod: pod)
            }
            #expect(try node.run("portmap", "ADD", config: conf(7001), id: "new\(round)", pod: pod).status == 0)
            #expect(try late.wait().status == 0)
            let pairs = try node.nftRuleset().components(separatedBy: "comment \"new\(round)\"").count - 1
            #expect(pairs == 3, "round \(round): the new holder's mapping and both pairs")
            #expect(try node.run("portmap", "DEL", config: conf(7001), id: "new\(round)", pod: pod).status == 0)
        }
        let left = try node.nftRuleset()
        #expect(!left.contains("comment \"old") && !left.contains("comment \"new"), "nothing left: \(left)")
    }
}
