import Foundation
import Testing
import TestSupport

@Suite(
    "tap: a persistent TAP device in the pod",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct TapTests {
    static let staticIPAM = #"{"type":"static","addresses":[{"address":"10.48.0.5/24"}]}"#

    func config(_ keys: String, ipam: String? = staticIPAM) -> String {
        #"{"cniVersion":"1.0.0","name":"tp","type":"tap"\#(keys)"# + (ipam.map { #","ipam":\#($0)}"# } ?? "}")
    }

    @Test("ADD: tap with MTU, MAC, owner, group and queues, up, with its address; CHECK; DEL twice")
    func lifecycle() throws {
        let node = try Node("tap")
        defer { node.tearDown() }
        let pod = try node.pod()
        let conf = config(#","mtu":1400,"mac":"02:00:00:00:0a:01","owner":4242,"group":4243,"multiQueue":true"#)
        let added = try node.run("tap", "ADD", config: conf, id: "ctr1", pod: pod, ifname: "tap0")
        #expect(added.status == 0, "\(added)")
        let link = try pod.ipJSON(["-d", "link", "show", "tap0"]).first ?? [:]
        #expect(link["mtu"] as? Int == 1400 && link["address"] as? String == "02:00:00:00:0a:01")
        #expect((link["flags"] as? [String])?.contains("UP") == true)
        let info = (link["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any] ?? [:]
        #expect(info["type"] as? String == "tap" && info["pi"] as? Bool == false, "\(info)")
        #expect(info["multi_queue"] as? Bool == true && info["persist"] as? Bool == true, "\(info)")
        #expect("\(info["user"] ?? "")" == "4242" && "\(info["group"] ?? "")" == "4243", "\(info)")
        let addresses = try pod.ipJSON(["addr", "show", "tap0"]).first?["addr_info"] as? [[String: Any]] ?? []
        #expect(addresses.contains { $0["local"] as? String == "10.48.0.5" })
        let interfaces = try added.object()["interfaces"] as? [[String: Any]] ?? []
        #expect(interfaces.first?["name"] as? String == "tap0" && interfaces.first?["sandbox"] as? String == pod.path)
        let withPrev = String(conf.dropLast()) + #","prevResult":\#(added.stdout)}"#
        #expect(try node.run("tap", "CHECK", config: withPrev, id: "ctr1", pod: pod, ifname: "tap0").status == 0)
        for _ in 0..<2 {
            #expect(try node.run("tap", "DEL", config: withPrev, id: "ctr1", pod: pod, ifname: "tap0").status == 0)
        }
        #expect(try pod.ipJSON(["link", "show"]).count == 1)
    }

    @Test("bridge: the tap becomes a port of a bridge inside the pod")
    func bridgePort() throws {
        let node = try Node("tab")
        defer { node.tearDown() }
        let pod = try node.pod()
        try Command.checked(["ip", "-n", pod.name, "link", "add", "vmbr0", "type", "bridge"])
        let added = try node.run(
            "tap", "ADD", config: config(#","bridge":"vmbr0""#, ipam: nil), id: "ctr1", pod: pod, ifname: "tap0")
        #expect(added.status == 0, "\(added)")
        #expect(try pod.ipJSON(["link", "show", "tap0"]).first?["master"] as? String == "vmbr0")
        let missing = try node.run(
            "tap", "ADD", config: config(#","bridge":"nobr""#, ipam: nil), id: "ctr2", pod: pod, ifname: "tap1")
        #expect(try missing.object()["code"] as? Int == 7, "\(missing)")
        #expect(try !pod.ipJSON(["link", "show"]).contains { $0["ifname"] as? String == "tap1" }, "rolled back")
    }

    @Test("A failed IPAM ADD removes the tap; selinuxContext is refused with code 7")
    func failures() throws {
        let node = try Node("taf")
        defer { node.tearDown() }
        let pod = try node.pod()
        let failed = try node.run(
            "tap", "ADD", config: config("", ipam: #"{"type":"cnit-no-such-ipam"}"#), id: "ctr1", pod: pod,
            ifname: "tap0")
        #expect(failed.status == 1)
        #expect(try pod.ipJSON(["link", "show"]).count == 1)
        let selinux = try node.run(
            "tap", "ADD", config: config(#","selinuxContext":"system_u:system_r:container_t:s0""#), id: "ctr1",
            pod: pod, ifname: "tap0")
        #expect(try selinux.object()["code"] as? Int == 7)
    }
}
