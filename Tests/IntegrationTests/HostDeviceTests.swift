import Foundation
import Testing
import TestSupport

/// host-device with a veth end on the node standing in for a physical NIC.
@Suite(
    "host-device moves a node device into the pod and back",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct HostDeviceTests {
    func node(_ tag: String) throws -> Node {
        let node = try Node(tag)
        try Command.checked([
            "ip", "-n", node.ns.name, "link", "add", "cnithd0", "type", "veth", "peer", "name", "cnithd1",
        ])
        try Command.checked(["ip", "-n", node.ns.name, "link", "set", "cnithd0", "address", "02:00:00:00:0d:01"])
        return node
    }

    func config(_ selector: String, ipam: String) -> String {
        #"{"cniVersion":"1.0.0","name":"hd","type":"host-device",\#(selector),"ipam":\#(ipam)}"#
    }

    static let staticIPAM = #"{"type":"static","addresses":[{"address":"10.50.0.5/24"}]}"#

    @Test(
        "ADD by name or MAC: the device is the pod's net1 with its address; CHECK; DEL gives it back under its name",
        arguments: [#""device":"cnithd0""#, #""hwaddr":"02:00:00:00:0D:01""#])
    func lifecycle(selector: String) throws {
        let node = try node("hdl")
        defer { node.tearDown() }
        let pod = try node.pod()
        let conf = config(selector, ipam: Self.staticIPAM)
        let added = try node.run("host-device", "ADD", config: conf, id: "ctr1", pod: pod, ifname: "net1")
        #expect(added.status == 0, "\(added)")
        let interfaces = try added.object()["interfaces"] as? [[String: Any]] ?? []
        #expect(interfaces.first?["name"] as? String == "net1" && interfaces.first?["sandbox"] as? String == pod.path)
        #expect(interfaces.first?["mac"] as? String == "02:00:00:00:0d:01")
        let inside = try pod.ipJSON(["addr", "show", "net1"]).first
        #expect((inside?["addr_info"] as? [[String: Any]])?.contains { $0["local"] as? String == "10.50.0.5" } == true)
        let alias = try pod.ipJSON(["link", "show", "net1"]).first?["ifalias"] as? String
        #expect(alias == "cnithd0", "the original name is kept in the alias")
        #expect(try !node.links().contains("cnithd0"))
        let withPrev = String(conf.dropLast()) + #","prevResult":\#(added.stdout)}"#
        let checked = try node.run("host-device", "CHECK", config: withPrev, id: "ctr1", pod: pod, ifname: "net1")
        #expect(checked.status == 0, "\(checked)")
        for _ in 0..<2 {
            let deleted = try node.run("host-device", "DEL", config: withPrev, id: "ctr1", pod: pod, ifname: "net1")
            #expect(deleted.status == 0, "\(deleted)")
        }
        let back = try node.ns.ipJSON(["link", "show", "cnithd0"]).first
        #expect(back?["ifname"] as? String == "cnithd0" && back?["ifalias"] == nil, "\(String(describing: back))")
        #expect(try pod.ipJSON(["link", "show"]).count == 1)
    }

    @Test(
        "DEL while the device's name is taken on the node fails and keeps the device findable; a later DEL returns it")
    func nameTaken() throws {
        let node = try node("hdn")
        defer { node.tearDown() }
        let pod = try node.pod()
        let conf = config(#""device":"cnithd0""#, ipam: Self.staticIPAM)
        #expect(try node.run("host-device", "ADD", config: conf, id: "ctr1", pod: pod, ifname: "net1").status == 0)
        try Command.checked([
            "ip", "-n", node.ns.name, "link", "add", "cnithd0", "type", "veth", "peer", "name", "cnithdq",
        ])
        let refused = try node.run("host-device", "DEL", config: conf, id: "ctr1", pod: pod, ifname: "net1")
        #expect(refused.status == 1, "\(refused)")
        #expect(
            try pod.ipJSON(["link", "show", "net1"]).first?["ifalias"] as? String == "cnithd0", "still net1, alias kept"
        )
        try Command.checked(["ip", "-n", node.ns.name, "link", "delete", "cnithd0"])
        #expect(try node.run("host-device", "DEL", config: conf, id: "ctr1", pod: pod, ifname: "net1").status == 0)
        #expect(try node.ns.ipJSON(["link", "show", "cnithd0"]).first?["ifalias"] == nil)
        #expect(try pod.ipJSON(["link", "show"]).count == 1)
    }

    @Test("A failed IPAM step moves the device back, renamed to its original name")
    func rollback() throws {
        let node = try node("hdr")
        defer { node.tearDown() }
        let pod = try node.pod()
        let bad = #"{"type":"cnit-no-such-ipam"}"#
        let added = try node.run(
            "host-device", "ADD", config: config(#""device":"cnithd0""#, ipam: bad), id: "ctr1", pod: pod,
            ifname: "net1")
        #expect(added.status == 1, "\(added)")
        #expect(try node.links().contains("cnithd0"), "back on the node")
        #expect(try node.ns.ipJSON(["link", "show", "cnithd0"]).first?["ifalias"] == nil)
        #expect(try pod.ipJSON(["link", "show"]).count == 1)
    }

    @Test("DEL with the netns gone still releases the IPAM reservation (the reference leaks it)")
    func netnsGone() throws {
        let node = try node("hdg")
        defer { node.tearDown() }
        let pod = try TestNamespace("hdp")
        let ipam = #"{"type":"host-local","subnet":"10.49.0.0/24","dataDir":"\#(node.dataDir)"}"#
        let conf = config(#""device":"cnithd0""#, ipam: ipam)
        #expect(try node.run("host-device", "ADD", config: conf, id: "ctr1", pod: pod, ifname: "net1").status == 0)
        #expect(node.reservations("hd").count == 1)
        try pod.remove()
        let deleted = try node.run(
            "host-device", "DEL", config: conf, id: "ctr1", pod: nil, ifname: "net1", netns: pod.path)
        #expect(deleted.status == 0, "\(deleted)")
        #expect(node.reservations("hd").isEmpty)
    }

    @Test(
        "Without a selector, or with a device that does not exist, ADD is a clear error",
        arguments: [
            ("", "specify either"), (#""device":"cnitnone""#, "not found"),
        ])
    func errors(selector: String, message: String) throws {
        let node = try node("hde")
        defer { node.tearDown() }
        let pod = try node.pod()
        let conf =
            selector.isEmpty
            ? #"{"cniVersion":"1.0.0","name":"hd","type":"host-device"}"# : config(selector, ipam: Self.staticIPAM)
        let added = try node.run("host-device", "ADD", config: conf, id: "ctr1", pod: pod, ifname: "net1")
        #expect(added.status == 1)
        #expect((try added.object()["msg"] as? String)?.contains(message) == true, "\(added)")
    }
}
