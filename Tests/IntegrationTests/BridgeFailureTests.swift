import Foundation
import Testing
import TestSupport

@Suite(
    "bridge failures leave nothing behind; GC, STATUS and bad input",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct BridgeFailureTests {
    func config(_ node: Node, subnet: String = "10.79.0.0/24", extra: String = "", version: String = "1.1.0") -> String
    {
        #"{"cniVersion":"\#(version)","name":"brfail","type":"bridge","bridge":"cnitbr0","isGateway":true,"ipMasq":true\#(extra),"ipam":{"type":"host-local","subnet":"\#(subnet)","dataDir":"\#(node.dataDir)"}}"#
    }

    /// Nothing of the failed attachment: no veth on the node, only lo in the pod, no rule.
    func expectClean(
        _ node: Node, _ pod: TestNamespace, bridge: Bool, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(try node.links() == (bridge ? ["cnitbr0"] : []), sourceLocation: sourceLocation)
        #expect(
            try pod.ipJSON(["link", "show"]).map { $0["ifname"] as? String } == ["lo"], sourceLocation: sourceLocation)
        #expect(try !node.nftRuleset().contains("id: ctr-fail"), sourceLocation: sourceLocation)
    }

    @Test("IPAM exhausted: the failed ADD removes its veth and keeps the existing attachment")
    func ipamExhausted() throws {
        let node = try Node("bfe")
        defer { node.tearDown() }
        let first = try node.pod(), second = try node.pod()
        let conf = config(node, subnet: "10.79.0.0/30")
        #expect(try node.run("bridge", "ADD", config: conf, id: "ctr-ok", pod: first).status == 0)
        let failed = try node.run("bridge", "ADD", config: conf, id: "ctr-fail", pod: second)
        #expect(failed.status == 1)
        #expect((try failed.object()["msg"] as? String)?.contains("no IP addresses available") == true)
        #expect(try node.links().count == 2, "the bridge and the first pod's veth only")
        #expect(try second.ipJSON(["link", "show"]).count == 1)
        #expect(node.reservations("brfail") == ["10.79.0.2"])
        #expect(try node.run("bridge", "DEL", config: conf, id: "ctr-fail", pod: second).status == 0)
    }

    @Test("An IPAM failure on the first ADD also removes the bridge it created")
    func firstAddFails() throws {
        let node = try Node("bff")
        defer { node.tearDown() }
        let pod = try node.pod()
        var invocation = PluginInvocation(plugin: "bridge", command: "ADD")
        invocation.containerID = "ctr-fail"
        invocation.netns = pod.path
        invocation.args = "IgnoreUnknown=1;IP=10.200.0.9"
        let failed = try invocation.run(stdin: config(node), node: node.ns)
        #expect(failed.status == 1)
        try expectClean(node, pod, bridge: false)
        #expect(node.reservations("brfail").isEmpty)
    }

    @Test("The interface name already exists in the container: error, nothing created, no reservation")
    func ifnameExists() throws {
        let node = try Node("bfi")
        defer { node.tearDown() }
        let pod = try node.pod()
        try Command.checked(["ip", "-n", pod.name, "link", "add", "eth0", "type", "veth", "peer", "name", "other0"])
        let failed = try node.run("bridge", "ADD", config: config(node), id: "ctr-fail", pod: pod)
        #expect(failed.status == 1, "\(failed)")
        // Found from the kernel's refusal of the peer's name, not a look beforehand.
        #expect(
            (try failed.object()["msg"] as? String)?.hasPrefix("container veth name (\"eth0\") already exists in ")
                == true, "\(failed)")
        #expect(try node.links().isEmpty)
        #expect(node.reservations("brfail").isEmpty)
    }

    @Test("A name clash with a non-bridge link is an error and creates nothing")
    func nameClash() throws {
        let node = try Node("bfc")
        defer { node.tearDown() }
        let pod = try node.pod()
        try Command.checked([
            "ip", "-n", node.ns.name, "link", "add", "cnitbr0", "type", "veth", "peer", "name", "cnitpeer0",
        ])
        let failed = try node.run("bridge", "ADD", config: config(node), id: "ctr-fail", pod: pod)
        #expect(failed.status == 1)
        #expect((try failed.object()["msg"] as? String)?.contains("already exists but is not a bridge") == true)
        #expect(try node.links().sorted() == ["cnitbr0", "cnitpeer0"])
        #expect(node.reservations("brfail").isEmpty)
    }

    @Test("A missing IPAM plugin fails the ADD and removes veth and bridge")
    func missingIPAM() throws {
        let node = try Node("bfm")
        defer { node.tearDown() }
        let pod = try node.pod()
        let conf =
            #"{"cniVersion":"1.0.0","name":"brfail","type":"bridge","bridge":"cnitbr0","ipam":{"type":"no-such-ipam"}}"#
        let failed = try node.run("bridge", "ADD", config: conf, id: "ctr-fail", pod: pod)
        #expect(failed.status == 1)
        #expect((try failed.object()["msg"] as? String)?.contains("failed to find plugin \"no-such-ipam\"") == true)
        try expectClean(node, pod, bridge: false)
    }

    @Test(
        "VLANs on this kernel (no bridge VLAN filtering): a CNI error naming the missing support, nothing left",
        arguments: [#","vlan":100"#, #","vlanTrunk":[{"id":101},{"minID":200,"maxID":210}]"#])
    func vlanUnsupported(extra: String) throws {
        let node = try Node("bfv")
        defer { node.tearDown() }
        let pod = try node.pod()
        let result = try node.run("bridge", "ADD", config: config(node, extra: extra), id: "ctr-fail", pod: pod)
        if result.status == 0 {
            // A kernel with VLAN filtering: then the port must carry the VLANs.
            let vlans = try Command.checked(["ip", "netns", "exec", node.ns.name, "bridge", "-j", "vlan", "show"])
            #expect(vlans.contains("\"vlan\":1") || vlans.contains("\"vlan\":100") || vlans.contains("\"vlan\":101"))
            return
        }
        let message = (try result.object()["msg"] as? String) ?? ""
        #expect(message.contains("VLAN filtering"), "\(message)")
        try expectClean(node, pod, bridge: false)
        #expect(node.reservations("brfail").isEmpty)
    }

    @Test(
        "Bad input is error 7 naming the key, and nothing is created",
        arguments: [
            (#","mtu":-5"#, "mtu"), (#","mtu":70000"#, "mtu"), (#","vlan":5000"#, "VLAN ID"),
            (#","vlanTrunk":[{"minID":20}]"#, "maxID"), (#","bridge":"abcdefghijklmnop""#, "bridge name"),
            (#","hairpinMode":true,"promiscMode":true"#, "hairpin"), (#","isGateway":"yes""#, "isGateway"),
        ])
    func badInput(extra: String, expected: String) throws {
        let node = try Node("bfb")
        defer { node.tearDown() }
        let pod = try node.pod()
        let result = try node.run("bridge", "ADD", config: config(node, extra: extra), id: "ctr-fail", pod: pod)
        #expect(result.status == 1)
        #expect(try result.object()["code"] as? Int == 7, "\(result)")
        #expect((try result.object()["msg"] as? String)?.contains(expected) == true, "\(result)")
        try expectClean(node, pod, bridge: false)
        #expect(!FileManager.default.fileExists(atPath: node.dataDir + "/brfail"))
    }

    @Test("GC removes masquerade rules and reservations of attachments not listed; STATUS reports a full pool")
    func gcAndStatus() throws {
        let node = try Node("bfg")
        defer { node.tearDown() }
        let a = try node.pod(), b = try node.pod()
        let conf = config(node, subnet: "10.79.0.0/29")
        #expect(try node.run("bridge", "ADD", config: conf, id: "ctr-a", pod: a).status == 0)
        #expect(try node.run("bridge", "ADD", config: conf, id: "ctr-b", pod: b).status == 0)
        #expect(try node.run("bridge", "STATUS", config: conf, id: "", pod: nil).status == 0)
        let gcConf =
            String(conf.dropLast()) + #","cni.dev/valid-attachments":[{"containerID":"ctr-a","ifname":"eth0"}]}"#
        let collected = try node.run("bridge", "GC", config: gcConf, id: "", pod: nil)
        #expect(collected.status == 0, "\(collected)")
        let rules = try node.nftRuleset()
        #expect(rules.contains("id: ctr-a"))
        #expect(!rules.contains("id: ctr-b"))
        #expect(node.reservations("brfail") == ["10.79.0.2"])
        // Fill the pool: .3 to .6 are free (.1 is the gateway, .7 broadcast).
        for i in 0..<4 {
            #expect(try node.run("bridge", "ADD", config: conf, id: "fill\(i)", pod: try node.pod()).status == 0)
        }
        let full = try node.run("bridge", "STATUS", config: conf, id: "", pod: nil)
        #expect(full.status == 1)
        #expect(try full.object()["code"] as? Int == 50)
    }
}
