import Foundation
import Testing
import TestSupport

/// What an ADD or DEL may touch: only what this invocation (or this attachment) created.
/// Each test is the regression test of a defect found by hostile input.
@Suite(
    "Ownership: a failed ADD and a DEL never remove what another attachment or the host owns",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct AttachmentOwnershipTests {
    func ptp(_ node: Node, extra: String = "") -> String {
        #"{"cniVersion":"1.0.0","name":"own","type":"ptp"\#(extra),"ipam":{"type":"host-local","subnet":"10.66.0.0/24","dataDir":"\#(node.dataDir)"}}"#
    }

    func bridge(_ node: Node, extra: String = "", ipam: String? = nil) -> String {
        let section = ipam ?? #"{"type":"host-local","subnet":"10.65.0.0/24","dataDir":"\#(node.dataDir)"}"#
        return #"{"cniVersion":"1.0.0","name":"own","type":"bridge","bridge":"cnitown0"\#(extra),"ipam":\#(section)}"#
    }

    /// A veth pair on the node that no plugin made.
    func foreignVeth(_ node: Node) throws {
        try Command.checked([
            "ip", "-n", node.ns.name, "link", "add", "cnitforeign0", "type", "veth", "peer", "name", "cnitforeign1",
        ])
    }

    func reservationOwners(_ node: Node) throws -> [String] {
        try node.reservations("own").map {
            try String(contentsOfFile: node.dataDir + "/own/" + $0, encoding: .utf8).split(separator: "\r\n").first.map(
                String.init) ?? ""
        }
    }

    @Test("A repeated ADD of a live attachment fails and leaves its reservation alone", arguments: ["ptp", "bridge"])
    func repeatedAdd(plugin: String) throws {
        let node = try Node("own")
        defer { node.tearDown() }
        let pod = try node.pod()
        let conf = plugin == "ptp" ? ptp(node) : bridge(node)
        #expect(try node.run(plugin, "ADD", config: conf, id: "ctrA", pod: pod).status == 0)
        let again = try node.run(plugin, "ADD", config: conf, id: "ctrA", pod: pod)
        #expect(again.status == 1, "\(again)")
        #expect(try reservationOwners(node) == ["ctrA"], "A keeps its reservation")
        // So the next pod cannot be handed A's address.
        let other = try node.pod()
        let next = try node.run(plugin, "ADD", config: conf, id: "ctrB", pod: other)
        let ips = try next.object()["ips"] as? [[String: Any]] ?? []
        #expect(ips.first?["address"] as? String != "10.6\(plugin == "ptp" ? 6 : 5).0.2/24", "\(next)")
        for (id, ns) in [("ctrA", pod), ("ctrB", other)] {
            #expect(try node.run(plugin, "DEL", config: conf, id: id, pod: ns).status == 0)
        }
        #expect(try node.reservations("own").isEmpty)
    }

    @Test("A repeated ADD of a live attachment from another netns leaves its macspoofchk rules alone")
    func repeatedAddKeepsSpoofCheck() throws {
        let node = try Node("ows")
        defer { node.tearDown() }
        let pod = try node.pod(), other = try node.pod()
        let conf = bridge(node, extra: #","macspoofchk":true"#)
        #expect(try node.run("bridge", "ADD", config: conf, id: "ctrS", pod: pod).status == 0)
        let before = try node.nftRuleset().components(separatedBy: "macspoofchk-ctrS-eth0").count
        #expect(before > 1)
        let again = try node.run("bridge", "ADD", config: conf, id: "ctrS", pod: other)
        #expect(again.status == 1, "\(again)")
        #expect(
            try node.nftRuleset().components(separatedBy: "macspoofchk-ctrS-eth0").count == before,
            "the live rules stay")
        #expect(try other.ipJSON(["link", "show"]).count == 1, "the failed ADD removed its own veth")
        #expect(try node.run("bridge", "DEL", config: conf, id: "ctrS", pod: pod).status == 0)
        #expect(try !node.nftRuleset().contains("macspoofchk-ctrS"))
    }

    @Test("DEL with a prevResult naming foreign host interfaces deletes none of them", arguments: ["ptp", "bridge"])
    func foreignInterfaces(plugin: String) throws {
        let node = try Node("owf")
        defer { node.tearDown() }
        let pod = try node.pod()
        try foreignVeth(node)
        let prev =
            #"{"cniVersion":"1.0.0","interfaces":[{"name":"cnitforeign0"},{"name":"cnitforeign1"},{"name":"lo"},{"name":"eth0","sandbox":"\#(pod.path)"}],"ips":[{"address":"10.66.0.9/24","gateway":"10.66.0.1","interface":3}]}"#
        let base = plugin == "ptp" ? ptp(node) : bridge(node)
        let conf = String(base.dropLast()) + #","prevResult":\#(prev)}"#
        for netns in ["", pod.path] {
            let deleted = try node.run(plugin, "DEL", config: conf, id: "ctrX", pod: nil, netns: netns)
            #expect(deleted.status == 0, "\(deleted)")
        }
        let links = try node.links()
        #expect(links.contains("cnitforeign0") && links.contains("cnitforeign1"), "\(links)")
        #expect(try node.ns.ipJSON(["link", "show", "lo"]).first?["operstate"] as? String != nil)
    }

    @Test("DEL without a netns still removes the attachment's own host veth", arguments: ["ptp", "bridge"])
    func ownVethWithoutNetns(plugin: String) throws {
        let node = try Node("owv")
        defer { node.tearDown() }
        let pod = try node.pod()
        let conf = plugin == "ptp" ? ptp(node) : bridge(node)
        let added = try node.run(plugin, "ADD", config: conf, id: "ctrV", pod: pod)
        #expect(added.status == 0, "\(added)")
        let withPrev = String(conf.dropLast()) + #","prevResult":\#(added.stdout)}"#
        let deleted = try node.run(plugin, "DEL", config: withPrev, id: "ctrV", pod: nil, netns: "")
        #expect(deleted.status == 0, "\(deleted)")
        #expect(try !node.links().contains { $0.hasPrefix("veth") }, "the attachment's veth is gone")
        #expect(try pod.ipJSON(["link", "show"]).count == 1, "only lo is left in the pod")
        #expect(try node.reservations("own").isEmpty)
    }

    @Test(
        "DEL reads leniently: configs the reference accepted on ADD are deletable",
        arguments: [
            ("bridge", #","mtu":-1"#), ("bridge", #","mtu":70000,"vlan":99999"#), ("ptp", #","mtu":70000"#),
            ("ptp", #","mtu":-1"#),
        ])
    func lenientDel(plugin: String, extra: String) throws {
        let node = try Node("owl")
        defer { node.tearDown() }
        let pod = try node.pod()
        let conf = plugin == "ptp" ? ptp(node) : bridge(node)
        #expect(try node.run(plugin, "ADD", config: conf, id: "ctrL", pod: pod).status == 0)
        // The same attachment, described with values our ADD would refuse, and an IPAM section
        // whose gateway lies outside an invalid subnet.
        let badIPAM =
            #"{"type":"host-local","subnet":"10.66.0.0/999","gateway":"192.0.2.1","dataDir":"\#(node.dataDir)"}"#
        let hostile =
            plugin == "ptp"
            ? #"{"cniVersion":"1.0.0","name":"own","type":"ptp"\#(extra),"ipam":\#(badIPAM)}"#
            : bridge(node, extra: extra, ipam: badIPAM)
        let deleted = try node.run(plugin, "DEL", config: hostile, id: "ctrL", pod: pod)
        #expect(deleted.status == 0, "\(deleted)")
        #expect(try node.reservations("own").isEmpty)
        #expect(try !node.links().contains { $0.hasPrefix("veth") })
    }

    @Test(
        "Every plugin's DEL accepts bad values of keys it does not need",
        arguments: [
            ("macvlan", #","master":"cnitnone","mode":"bogus","mtu":-1"#), ("ipvlan", #","mode":"l9","mtu":70000"#),
            ("tuning", #","mtu":-5,"sysctl":{"net.bad":"1"}"#), ("portmap", #","markMasqBit":99"#),
            ("bandwidth", #","ingressRate":5"#), ("firewall", #","ingressPolicy":"bogus""#),
        ])
    func lenientEverywhere(plugin: String, extra: String) throws {
        let node = try Node("owe")
        defer { node.tearDown() }
        let conf = #"{"cniVersion":"1.0.0","name":"own","type":"\#(plugin)"\#(extra)}"#
        let deleted = try node.run(plugin, "DEL", config: conf, id: "ctrE", pod: nil, netns: "")
        #expect(deleted.status == 0, "\(deleted)")
    }

    @Test("firewall serves 0.3.x for ADD and DEL (a 0.3.1 chain must not leak its pod); CHECK stays 0.4.0+")
    func firewallOldVersions() throws {
        let node = try Node("ow3")
        defer { node.tearDown() }
        let pod = try node.pod()
        let added = try node.run(
            "bridge", "ADD", config: bridge(node).replacingOccurrences(of: "1.0.0", with: "0.3.1"), id: "ctr3", pod: pod
        )
        #expect(added.status == 0, "\(added)")
        let conf = #"{"cniVersion":"0.3.1","name":"own","type":"firewall","prevResult":\#(added.stdout)}"#
        let fw = try node.run("firewall", "ADD", config: conf, id: "ctr3", pod: pod)
        #expect(fw.status == 0, "\(fw)")
        #expect(try node.nftRuleset().contains("id: ctr3"))
        let check = try node.run("firewall", "CHECK", config: conf, id: "ctr3", pod: pod)
        #expect(try check.object()["code"] as? Int == 1)
        #expect(try node.run("firewall", "DEL", config: conf, id: "ctr3", pod: pod).status == 0)
        #expect(try !node.nftRuleset().contains("id: ctr3"))
        // A DEL in a version the plugin never served on ADD still cleans up.
        let old = #"{"cniVersion":"0.2.0","name":"own","type":"bandwidth"}"#
        #expect(try node.run("bandwidth", "DEL", config: old, id: "ctr3", pod: pod).status == 0)
        #expect(try node.run("bridge", "DEL", config: bridge(node), id: "ctr3", pod: pod).status == 0)
    }
}
