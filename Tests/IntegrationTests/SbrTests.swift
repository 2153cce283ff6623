import Foundation
import Testing
import TestSupport

/// sbr after a plugin that gave the pod a second interface with its own gateway.
@Suite(
    "sbr: per-address routing tables and source rules",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct SbrTests {
    /// A pod with `net1` at 10.47.0.5/24 (gateway 10.47.0.1), as a main plugin leaves it, and
    /// that plugin's result.
    func pod(_ node: Node) throws -> (TestNamespace, String) {
        let pod = try node.pod()
        try Command.checked([
            "ip", "-n", node.ns.name, "link", "add", "cnitsbr0", "type", "veth", "peer", "name", "net1", "netns",
            pod.name,
        ])
        for argv in [["addr", "add", "10.47.0.5/24", "dev", "net1"], ["link", "set", "net1", "up"]] {
            try Command.checked(["ip", "-n", pod.name] + argv)
        }
        let prev =
            #"{"cniVersion":"1.0.0","interfaces":[{"name":"net1","sandbox":"\#(pod.path)"}],"ips":[{"address":"10.47.0.5/24","gateway":"10.47.0.1","interface":0}]}"#
        return (pod, prev)
    }

    func rules(_ pod: TestNamespace) throws -> [[String: Any]] { try pod.ipJSON(["rule", "show"]) }

    @Test(
        "ADD: rule from the address to table 100 with the interface's routes and a default route; DEL removes the rule")
    func tables() throws {
        let node = try Node("sbr")
        defer { node.tearDown() }
        let (pod, prev) = try pod(node)
        let conf = #"{"cniVersion":"1.0.0","name":"sb","type":"sbr","prevResult":\#(prev)}"#
        let added = try node.run("sbr", "ADD", config: conf, id: "ctr1", pod: pod, ifname: "net1")
        #expect(added.status == 0, "\(added)")
        #expect(try rules(pod).contains { $0["src"] as? String == "10.47.0.5" && "\($0["table"] ?? "")" == "100" })
        let table = try pod.ipJSON(["route", "show", "table", "100"])
        #expect(
            table.contains { $0["dst"] as? String == "default" && $0["gateway"] as? String == "10.47.0.1" }, "\(table)")
        #expect(table.contains { $0["dst"] as? String == "10.47.0.0/24" && $0["dev"] as? String == "net1" }, "\(table)")
        #expect(try !pod.ipJSON(["route", "show"]).contains { $0["dev"] as? String == "net1" }, "moved out of main")
        #expect(try node.run("sbr", "CHECK", config: conf, id: "ctr1", pod: pod, ifname: "net1").status == 0)
        for _ in 0..<2 {
            #expect(try node.run("sbr", "DEL", config: conf, id: "ctr1", pod: pod, ifname: "net1").status == 0)
        }
        #expect(try !rules(pod).contains { $0["src"] as? String == "10.47.0.5" })
    }

    @Test("A failed ADD removes the rules and routes it made")
    func rollback() throws {
        let node = try Node("sbf")
        defer { node.tearDown() }
        let (pod, _) = try pod(node)
        // The second address's gateway cannot be reached, so its default route fails.
        let prev =
            #"{"cniVersion":"1.0.0","interfaces":[{"name":"net1","sandbox":"\#(pod.path)"}],"ips":[{"address":"10.47.0.5/24","gateway":"10.47.0.1","interface":0},{"address":"10.46.9.9/24","gateway":"10.46.9.1","interface":0}]}"#
        let conf = #"{"cniVersion":"1.0.0","name":"sb","type":"sbr","prevResult":\#(prev)}"#
        let added = try node.run("sbr", "ADD", config: conf, id: "ctr1", pod: pod, ifname: "net1")
        #expect(added.status == 1, "\(added)")
        #expect(try !rules(pod).contains { ["10.47.0.5", "10.46.9.9"].contains($0["src"] as? String ?? "") })
        #expect(try pod.ipJSON(["route", "show", "table", "100"]).isEmpty)
        #expect(try pod.ipJSON(["route", "show"]).contains { $0["dev"] as? String == "net1" }, "main routes restored")
    }

    @Test("With table set only the rule is added and routes stay in main; unchained ADD is refused")
    func fixedTable() throws {
        let node = try Node("sbt")
        defer { node.tearDown() }
        let (pod, prev) = try pod(node)
        let conf = #"{"cniVersion":"1.0.0","name":"sb","type":"sbr","table":250,"prevResult":\#(prev)}"#
        #expect(try node.run("sbr", "ADD", config: conf, id: "ctr1", pod: pod, ifname: "net1").status == 0)
        #expect(try rules(pod).contains { $0["src"] as? String == "10.47.0.5" && "\($0["table"] ?? "")" == "250" })
        #expect(try pod.ipJSON(["route", "show"]).contains { $0["dev"] as? String == "net1" })
        #expect(try node.run("sbr", "DEL", config: conf, id: "ctr1", pod: pod, ifname: "net1").status == 0)
        #expect(try !rules(pod).contains { $0["src"] as? String == "10.47.0.5" })
        let bad = try node.run(
            "sbr", "ADD", config: #"{"cniVersion":"1.0.0","name":"sb","type":"sbr"}"#, id: "c", pod: pod, ifname: "net1"
        )
        #expect((try bad.object()["msg"] as? String)?.contains("chained") == true, "\(bad)")
    }
}
