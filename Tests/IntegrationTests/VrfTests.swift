import Foundation
import Testing
import TestSupport

/// vrf. This kernel has no VRF support: ADD must fail naming it and leave the interface as it
/// was; on a kernel that has it the enslaving is checked instead. The VRF creation request is
/// covered byte for byte by the golden-byte tests.
@Suite(
    "vrf: the interface into a VRF, or a clear error where the kernel lacks VRFs",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct VrfTests {
    @Test("ADD enslaves net1 to the VRF (or fails naming the missing support, changing nothing); DEL always succeeds")
    func enslave() throws {
        let node = try Node("vrf")
        defer { node.tearDown() }
        let pod = try node.pod()
        try Command.checked([
            "ip", "-n", node.ns.name, "link", "add", "cnitvrf0", "type", "veth", "peer", "name", "net1", "netns",
            pod.name,
        ])
        try Command.checked(["ip", "-n", pod.name, "link", "set", "net1", "up"])
        let prev = #"{"cniVersion":"1.0.0","interfaces":[{"name":"net1","sandbox":"\#(pod.path)"}],"ips":[]}"#
        let conf =
            #"{"cniVersion":"1.0.0","name":"vr","type":"vrf","vrfname":"blue","table":1010,"prevResult":\#(prev)}"#
        let added = try node.run("vrf", "ADD", config: conf, id: "c1", pod: pod, ifname: "net1")
        if added.status == 0 {
            #expect(try pod.ipJSON(["link", "show", "net1"]).first?["master"] as? String == "blue")
            #expect(try node.run("vrf", "CHECK", config: conf, id: "c1", pod: pod, ifname: "net1").status == 0)
        } else {
            #expect((try added.object()["msg"] as? String)?.contains("no support for vrf links") == true, "\(added)")
            #expect(try pod.ipJSON(["link", "show", "net1"]).first?["master"] == nil)
            #expect(try pod.ipJSON(["link", "show"]).count == 2, "no VRF created")
            #expect(try node.run("vrf", "CHECK", config: conf, id: "c1", pod: pod, ifname: "net1").status == 1)
        }
        for _ in 0..<2 {
            #expect(try node.run("vrf", "DEL", config: conf, id: "c1", pod: pod, ifname: "net1").status == 0)
        }
        #expect(try pod.ipJSON(["link", "show"]).count == 2, "the VRF goes with its last interface")
        let missing = #"{"cniVersion":"1.0.0","name":"vr","type":"vrf","prevResult":\#(prev)}"#
        #expect(
            try node.run("vrf", "ADD", config: missing, id: "c1", pod: pod, ifname: "net1").object()["code"] as? Int
                == 7)
        let old = #"{"cniVersion":"0.3.0","name":"vr","type":"vrf","vrfname":"blue"}"#
        #expect(
            try node.run("vrf", "ADD", config: old, id: "c1", pod: pod, ifname: "net1").object()["code"] as? Int == 1)
    }
}
