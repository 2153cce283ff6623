import Foundation
import Testing
import TestSupport

@Suite(
    "macvlan and ipvlan in real namespaces",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct MacvlanTests {
    /// A node with a master link (one end of a veth pair, up).
    func node(_ tag: String) throws -> Node {
        let node = try Node(tag)
        try Command.checked([
            "ip", "-n", node.ns.name, "link", "add", "cnitm0", "type", "veth", "peer", "name", "cnitm1",
        ])
        try Command.checked(["ip", "-n", node.ns.name, "link", "set", "cnitm0", "up"])
        try Command.checked(["ip", "-n", node.ns.name, "link", "set", "cnitm1", "up"])
        return node
    }

    func config(
        _ node: Node, _ type: String = "macvlan", keys: String = #","master":"cnitm0""#,
        subnet: String = "10.66.10.0/24"
    ) -> String {
        #"{"cniVersion":"1.0.0","name":"mvnet","type":"\#(type)"\#(keys),"ipam":{"type":"host-local","subnet":"\#(subnet)","dataDir":"\#(node.dataDir)"}}"#
    }

    @Test("Two pods on one master (bridge mode) reach each other; CHECK; DEL removes links and reservations")
    func bridgeMode() throws {
        let node = try node("mvb")
        defer { node.tearDown() }
        let a = try node.pod(), b = try node.pod()
        let conf = config(node, keys: #","master":"cnitm0","mode":"bridge","mtu":1400"#)
        var results: [CommandResult] = []
        for (i, pod) in [a, b].enumerated() {
            results.append(try node.run("macvlan", "ADD", config: conf, id: "ctr\(i)", pod: pod))
        }
        for result in results { #expect(result.status == 0, "\(result)") }
        let link = try a.ipJSON(["-d", "link", "show", "eth0"]).first
        #expect((link?["linkinfo"] as? [String: Any])?["info_kind"] as? String == "macvlan")
        #expect(link?["mtu"] as? Int == 1400)
        let ips = try results[0].object()["ips"] as? [[String: Any]] ?? []
        #expect(ips.first?["interface"] as? Int == 0)
        #expect(try ping(a, "10.66.10.3"))
        let withPrev = String(conf.dropLast()) + #","prevResult":\#(results[0].stdout)}"#
        #expect(try node.run("macvlan", "CHECK", config: withPrev, id: "ctr0", pod: a).status == 0)
        for (i, pod) in [a, b].enumerated() {
            #expect(try node.run("macvlan", "DEL", config: conf, id: "ctr\(i)", pod: pod).status == 0)
            #expect(try node.run("macvlan", "DEL", config: conf, id: "ctr\(i)", pod: pod).status == 0)
            #expect(try pod.ipJSON(["link", "show"]).count == 1)
        }
        #expect(node.reservations("mvnet").isEmpty)
    }

    @Test("MAC from runtimeConfig; L2 mode without IPAM; the master defaults to the default route's interface")
    func macAndDefaults() throws {
        let node = try node("mvd")
        defer { node.tearDown() }
        try Command.checked(["ip", "-n", node.ns.name, "addr", "add", "192.0.2.10/24", "dev", "cnitm0"])
        try Command.checked(["ip", "-n", node.ns.name, "route", "add", "default", "via", "192.0.2.1", "dev", "cnitm0"])
        let pod = try node.pod()
        let conf =
            #"{"cniVersion":"1.0.0","name":"mvnet","type":"macvlan","runtimeConfig":{"mac":"02:00:00:00:77:01"},"ipam":{}}"#
        let added = try node.run("macvlan", "ADD", config: conf, id: "ctr1", pod: pod)
        #expect(added.status == 0, "\(added)")
        let link = try pod.ipJSON(["-d", "link", "show", "eth0"]).first
        #expect(link?["address"] as? String == "02:00:00:00:77:01")
        #expect((link?["flags"] as? [String])?.contains("UP") == true)
        #expect(try node.run("macvlan", "DEL", config: conf, id: "ctr1", pod: pod).status == 0)
    }

    @Test("Failures leave nothing: ifname taken, IPAM exhausted, missing master, MTU above the master's, unknown mode")
    func failures() throws {
        let node = try node("mvf")
        defer { node.tearDown() }
        let taken = try node.pod()
        try Command.checked(["ip", "-n", taken.name, "link", "add", "eth0", "type", "veth", "peer", "name", "other0"])
        #expect(try node.run("macvlan", "ADD", config: config(node), id: "c1", pod: taken).status == 1)
        #expect(node.reservations("mvnet").isEmpty)

        let tiny = config(node, subnet: "10.66.11.0/30")
        let first = try node.pod(), second = try node.pod()
        #expect(try node.run("macvlan", "ADD", config: tiny, id: "c2", pod: first).status == 0)
        let exhausted = try node.run("macvlan", "ADD", config: tiny, id: "c3", pod: second)
        #expect(exhausted.status == 1)
        #expect(try second.ipJSON(["link", "show"]).count == 1, "the macvlan was removed")

        for (keys, code) in [
            (#","master":"cnit-nope""#, 7), (#","master":"cnitm0","mtu":9000"#, 7),
            (#","master":"cnitm0","mode":"weird""#, 7),
        ] {
            let pod = try node.pod()
            let result = try node.run("macvlan", "ADD", config: config(node, keys: keys), id: "c4", pod: pod)
            #expect(try result.object()["code"] as? Int == code, "\(keys): \(result)")
            #expect(try pod.ipJSON(["link", "show"]).count == 1)
        }
    }

    @Test("ipvlan on this kernel: a clear error naming the missing support, nothing created or reserved")
    func ipvlan() throws {
        let node = try node("ipv")
        defer { node.tearDown() }
        let pod = try node.pod()
        let result = try node.run(
            "ipvlan", "ADD", config: config(node, "ipvlan", keys: #","master":"cnitm0","mode":"l3""#), id: "c1",
            pod: pod)
        if result.status == 0 {
            // A kernel with ipvlan: the link must be an ipvlan.
            #expect(
                (try pod.ipJSON(["-d", "link", "show", "eth0"]).first?["linkinfo"] as? [String: Any])?["info_kind"]
                    as? String == "ipvlan")
            return
        }
        #expect((try result.object()["msg"] as? String)?.contains("no support for ipvlan links") == true, "\(result)")
        #expect(try pod.ipJSON(["link", "show"]).count == 1)
        #expect(node.reservations("mvnet").isEmpty)
        #expect(try node.run("ipvlan", "DEL", config: config(node, "ipvlan"), id: "c1", pod: pod).status == 0)
    }
}
