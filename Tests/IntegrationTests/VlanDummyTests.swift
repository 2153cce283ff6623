import Foundation
import Testing
import TestSupport

/// vlan and dummy. This kernel has neither 802.1q nor the dummy driver: ADD must fail with an
/// error naming the missing support and leave nothing; on a kernel that has them the link is
/// checked instead. Their requests are covered byte for byte by the golden-byte tests.
@Suite(
    "vlan and dummy: a clear error where the kernel lacks them, nothing left",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct VlanDummyTests {
    func node(_ tag: String) throws -> Node {
        let node = try Node(tag)
        try Command.checked([
            "ip", "-n", node.ns.name, "link", "add", "cnitv0", "type", "veth", "peer", "name", "cnitv1",
        ])
        try Command.checked(["ip", "-n", node.ns.name, "link", "set", "cnitv0", "up"])
        return node
    }

    func config(_ node: Node, _ type: String, _ keys: String) -> String {
        #"{"cniVersion":"1.0.0","name":"vd","type":"\#(type)"\#(keys),"ipam":{"type":"host-local","subnet":"10.46.0.0/24","dataDir":"\#(node.dataDir)"}}"#
    }

    @Test(
        "ADD of a vlan or a dummy: the link of that kind, or an error naming the missing support; DEL always succeeds",
        arguments: [("vlan", #","master":"cnitv0","vlanId":42"#, "vlan"), ("dummy", "", "dummy")])
    func add(type: String, keys: String, kind: String) throws {
        let node = try node("vd" + type.prefix(1))
        defer { node.tearDown() }
        let pod = try node.pod()
        let conf = config(node, type, keys)
        let result = try node.run(type, "ADD", config: conf, id: "c1", pod: pod)
        if result.status == 0 {
            let info = try pod.ipJSON(["-d", "link", "show", "eth0"]).first?["linkinfo"] as? [String: Any]
            #expect(info?["info_kind"] as? String == kind)
        } else {
            #expect(
                (try result.object()["msg"] as? String)?.contains("no support for \(kind) links") == true, "\(result)")
            #expect(try pod.ipJSON(["link", "show"]).count == 1, "nothing created in the pod")
            #expect(try node.links().sorted() == ["cnitv0", "cnitv1"], "no temporary link left on the node")
            #expect(node.reservations("vd").isEmpty, "no reservation kept")
        }
        for _ in 0..<2 { #expect(try node.run(type, "DEL", config: conf, id: "c1", pod: pod).status == 0) }
        #expect(node.reservations("vd").isEmpty)
    }

    @Test(
        "Bad keys are error 7 naming them",
        arguments: [
            ("vlan", #","vlanId":42"#, "master"), ("vlan", #","master":"cnitv0","vlanId":5000"#, "vlanId"),
            ("dummy", "", "ipam"),
        ])
    func badKeys(type: String, keys: String, key: String) throws {
        let node = try node("vdk")
        defer { node.tearDown() }
        let pod = try node.pod()
        let conf = type == "dummy" ? #"{"cniVersion":"1.0.0","name":"vd","type":"dummy"}"# : config(node, type, keys)
        let result = try node.run(type, "ADD", config: conf, id: "c1", pod: pod)
        #expect(try result.object()["code"] as? Int == 7, "\(result)")
        #expect("\(try result.object())".contains(key), "\(result)")
    }
}
