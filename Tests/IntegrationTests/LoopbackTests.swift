import Foundation
import Testing
import TestSupport

/// loopback end to end: the binary runs inside a per-test "node" netns, as a runtime on that
/// node would, against a fresh "pod" netns; the kernel state is read back with `ip -j`.
@Suite(
    "loopback in real network namespaces",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct LoopbackTests {
    func config(_ version: String) -> String {
        #"{"cniVersion":"\#(version)","name":"cni-loopback","type":"loopback"}"#
    }

    func loFlags(_ pod: TestNamespace) throws -> [String] {
        try pod.ipJSON(["link", "show", "lo"]).first?["flags"] as? [String] ?? []
    }

    @Test("ADD, CHECK, DEL and a second DEL", arguments: ["0.3.1", "0.4.0", "1.0.0", "1.1.0"])
    func lifecycle(version: String) throws {
        let node = try TestNamespace("node")
        let pod = try TestNamespace("pod")
        defer { try? pod.remove(); try? node.remove() }

        var add = PluginInvocation(plugin: "loopback", command: "ADD")
        add.netns = pod.path
        add.ifname = "lo"
        add.args = "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u"
        let added = try add.run(stdin: config(version), node: node)
        #expect(added.status == 0, "\(added)")
        let result = try added.object()
        #expect(result["cniVersion"] as? String == version)
        let interfaces = result["interfaces"] as? [[String: Any]]
        #expect(interfaces?.count == 1)
        #expect(interfaces?.first?["name"] as? String == "lo")
        #expect(interfaces?.first?["mac"] as? String == "00:00:00:00:00:00")
        #expect(interfaces?.first?["sandbox"] as? String == pod.path)
        let ips = result["ips"] as? [[String: Any]] ?? []
        #expect(ips.map { $0["address"] as? String } == ["127.0.0.1/8", "::1/128"])
        #expect(ips.allSatisfy { $0["interface"] as? Int == 0 })
        if version.hasPrefix("0.") {
            #expect(ips.map { $0["version"] as? String } == ["4", "6"])
            #expect(result["dns"] != nil)
        } else {
            #expect(ips.allSatisfy { $0["version"] == nil })
        }
        #expect(try loFlags(pod).contains("UP"))

        if version != "0.3.1" {
            var check = add
            check.command = "CHECK"
            let checked = try check.run(stdin: config(version), node: node)
            #expect(checked.status == 0, "\(checked)")
            #expect(checked.stdout.isEmpty)
        }

        var del = add
        del.command = "DEL"
        for _ in 0..<2 {
            let deleted = try del.run(stdin: config(version), node: node)
            #expect(deleted.status == 0, "\(deleted)")
            #expect(deleted.stdout.isEmpty)
        }
        #expect(try !loFlags(pod).contains("UP"))

        if version != "0.3.1" {
            var check = add
            check.command = "CHECK"
            let checked = try check.run(stdin: config(version), node: node)
            #expect(checked.status == 1)
            #expect(try checked.object()["msg"] as? String == "loopback interface is down")
        }
        try pod.remove()
        try node.remove()
        #expect(!pod.exists && !node.exists)
    }

    @Test("0.2.0 gets ip4/ip6")
    func legacyResult() throws {
        let pod = try TestNamespace("pod")
        defer { try? pod.remove() }
        var add = PluginInvocation(plugin: "loopback", command: "ADD")
        add.netns = pod.path
        let added = try add.run(stdin: config("0.2.0"))
        #expect(added.status == 0, "\(added)")
        let result = try added.object()
        #expect((result["ip4"] as? [String: Any])?["ip"] as? String == "127.0.0.1/8")
        #expect((result["ip6"] as? [String: Any])?["ip"] as? String == "::1/128")
        #expect(result["interfaces"] == nil)
    }

    @Test("R32/R33: DEL succeeds with no netns and with a netns that is gone")
    func delWithoutNetns() throws {
        var del = PluginInvocation(plugin: "loopback", command: "DEL")
        for netns in ["", "/run/netns/cnit-gone-\(UUID().uuidString.prefix(8))"] {
            del.netns = netns
            let result = try del.run(stdin: config("1.0.0"))
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test("ADD with a netns path that does not exist fails cleanly")
    func addMissingNetns() throws {
        var add = PluginInvocation(plugin: "loopback", command: "ADD")
        add.netns = "/run/netns/cnit-gone-\(UUID().uuidString.prefix(8))"
        let result = try add.run(stdin: config("1.0.0"))
        #expect(result.status == 1)
        #expect(try result.object()["code"] as? Int == 999)
    }

    @Test("Code 8: the node's own netns as CNI_NETNS is refused before anything changes")
    func ownNetns() throws {
        let node = try TestNamespace("node")
        defer { try? node.remove() }
        var add = PluginInvocation(plugin: "loopback", command: "ADD")
        add.netns = node.path
        let refused = try add.run(stdin: config("1.0.0"), node: node)
        #expect(refused.status == 1)
        #expect(try refused.object()["code"] as? Int == 8)
        #expect(try !(node.ipJSON(["link", "show", "lo"]).first?["flags"] as? [String] ?? []).contains("UP"))

        add.extra["CNI_NETNS_OVERRIDE"] = "1"
        let allowed = try add.run(stdin: config("1.0.0"), node: node)
        #expect(allowed.status == 0, "\(allowed)")
    }

    @Test("R23: a chained loopback passes prevResult through in the requested version")
    func chained() throws {
        let pod = try TestNamespace("pod")
        defer { try? pod.remove() }
        var add = PluginInvocation(plugin: "loopback", command: "ADD")
        add.netns = pod.path
        let prev =
            #"{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/x"}],"ips":[{"interface":0,"address":"10.1.0.5/16"}]}"#
        let result = try add.run(stdin: #"{"cniVersion":"1.0.0","name":"n","type":"loopback","prevResult":\#(prev)}"#)
        #expect(result.status == 0, "\(result)")
        let output = try result.object() as NSDictionary
        let expected = try JSONSerialization.jsonObject(with: Data(prev.utf8)) as! NSDictionary
        #expect(output == expected)
    }
}
