@testable import DummyPlugin
@testable import IpvlanPlugin
@testable import MacvlanPlugin
@testable import VlanPlugin
import CNISkeleton
import Netlink
import PluginSupport
import Testing

/// macvlan, ipvlan, vlan and dummy against a fake node: the child link is made in the host
/// straight into the netns under a temporary name, renamed there, then configured from IPAM.
/// This kernel has no ipvlan, 802.1q or dummy driver, so these flows are proved here.
@Suite("child-link flows (macvlan, ipvlan, vlan, dummy) against a fake kernel")
struct ChildLinkFlowTests {
    static let ipam = #""ipam":{"type":"host-local"}"#
    static let cases: [(kind: String, conf: String)] = [
        ("macvlan", #"{"cniVersion":"1.0.0","name":"n","type":"macvlan","master":"eth0","mode":"bridge",\#(ipam)}"#),
        ("ipvlan", #"{"cniVersion":"1.0.0","name":"n","type":"ipvlan","master":"eth0","mode":"l2",\#(ipam)}"#),
        ("vlan", #"{"cniVersion":"1.0.0","name":"n","type":"vlan","master":"eth0","vlanId":100,\#(ipam)}"#),
    ]

    static func plugin(_ kind: String, _ kernel: KernelContext) -> any CNIPlugin {
        switch kind {
        case "macvlan": return MacvlanPlugin(kernel: kernel)
        case "ipvlan": return IpvlanPlugin(kernel: kernel)
        case "vlan": return VlanPlugin(kernel: kernel)
        default: return DummyPlugin(kernel: kernel)
        }
    }

    static func node() -> FakeNode { FakeNode(hostLinks: [.init(index: 2, name: "eth0", kind: "", up: true)]) }

    /// The log with the random temporary name replaced by `<tmp>`.
    static func normalized(_ log: [String]) throws -> [String] {
        let temporary = try Regex("veth[0-9a-f]{8}")
        return log.map { $0.replacing(temporary, with: "<tmp>") }
    }

    @Test("ADD: created into the netns, renamed, addressed, routed; CHECK; DEL twice", arguments: cases)
    func addCheckDel(kind: String, conf: String) throws {
        let node = Self.node()
        let plugin = Self.plugin(kind, node.kernel())
        var result = try plugin.add(flowRequest(.add, conf))
        #expect(
            try Self.normalized(node.log) == [
                "host: new link <tmp> \(kind)", "ctr: set link <tmp>", "ctr: new addr eth0 10.1.2.5/24",
                "ctr: set link eth0", "ctr: new route 0.0.0.0/0 via 10.1.2.1 dev eth0",
            ])
        let child = try #require(node.container.links.first { $0.name == "eth0" })
        #expect(child.kind == kind && child.linkIndex == 2, "a child of the master")
        #expect(node.host.links.map(\.name) == ["lo", "eth0"], "nothing of it stays in the host")
        #expect(
            node.containerSysctls.writes == ["net/ipv4/conf/eth0/arp_notify=1", "net/ipv6/conf/eth0/ndisc_notify=1"])
        result.cniVersion = "1.0.0"
        let withPrev = try withPrevResult(conf, result)
        try plugin.check(flowRequest(.check, withPrev))
        try plugin.del(flowRequest(.del, withPrev))
        #expect(node.log.last == "ctr: del link eth0" && node.container.links.map(\.name) == ["lo"])
        #expect(node.ipam.log == ["add ctr1/eth0", "check ctr1/eth0", "del ctr1/eth0"])
        let changes = node.log.count
        try plugin.del(flowRequest(.del, withPrev))
        try Self.plugin(kind, node.kernel(netnsGone: true)).del(flowRequest(.del, withPrev))
        #expect(node.log.count == changes, "DEL again, or with the netns gone, changes nothing")
    }

    @Test("A failed step deletes the child and releases the reservation", arguments: cases)
    func rollback(kind: String, conf: String) throws {
        let node = Self.node()
        node.container.fail = { $0.hasPrefix("new route") ? 1 : nil }
        #expect(throws: (any Error).self) { try Self.plugin(kind, node.kernel()).add(flowRequest(.add, conf)) }
        #expect(node.log.last == "ctr: del link eth0", "\(node.log)")
        #expect(node.ipam.log == ["add ctr1/eth0", "del ctr1/eth0"])
        #expect(node.container.links.map(\.name) == ["lo"] && node.host.links.map(\.name) == ["lo", "eth0"])
    }

    @Test("A kernel without the driver fails ADD with a CNI error naming it, before IPAM", arguments: cases)
    func missingDriver(kind: String, conf: String) throws {
        let node = Self.node()
        node.host.fail = { $0.hasSuffix(" \(kind)") ? 95 : nil }  // EOPNOTSUPP
        let error = #expect(throws: CNIError.self) { try Self.plugin(kind, node.kernel()).add(flowRequest(.add, conf)) }
        #expect(error?.code == .internalError)
        #expect(error?.msg.contains("this kernel has no support for \(kind) links") == true, "\(error?.msg ?? "")")
        #expect(node.ipam.log.isEmpty && node.container.links.map(\.name) == ["lo"])
    }

    @Test(
        "A death at every step of ADD (nothing reaches the kernel after it), then DEL: nothing left",
        arguments: cases)
    func deathAtEveryStep(kind: String, conf: String) throws {
        var steps = 0
        for k in 0...40 {
            let node = Self.node()
            node.journal.budget = k
            let completed = (try? Self.plugin(kind, node.kernel()).add(flowRequest(.add, conf))) != nil
            node.journal.budget = nil
            try Self.plugin(kind, node.kernel()).del(flowRequest(.del, conf))
            #expect(node.container.links.map(\.name) == ["lo"], "\(kind) died before change \(k): \(node.log)")
            #expect(node.host.links.map(\.name) == ["lo", "eth0"], "\(kind) k=\(k)")
            let adds = node.ipam.log.filter { $0.hasPrefix("add") }.count
            let dels = node.ipam.log.filter { $0.hasPrefix("del") }.count
            #expect(adds == 0 || dels >= 1, "\(kind) k=\(k): a reservation stays: \(node.ipam.log)")
            if completed {
                steps = k
                break
            }
        }
        #expect(steps == 6, "\(kind): create, rename, IPAM, address, up, route")
    }

    @Test("dummy: the link is made in the netns, addressed from IPAM (required); DEL")
    func dummy() throws {
        let node = Self.node()
        let conf = #"{"cniVersion":"1.0.0","name":"n","type":"dummy",\#(Self.ipam)}"#
        let plugin = DummyPlugin(kernel: node.kernel())
        var result = try plugin.add(flowRequest(.add, conf))
        #expect(
            node.log == [
                "ctr: new link eth0 dummy", "ctr: new addr eth0 10.1.2.5/24", "ctr: set link eth0",
                "ctr: new route 0.0.0.0/0 via 10.1.2.1 dev eth0",
            ])
        result.cniVersion = "1.0.0"
        try plugin.check(flowRequest(.check, withPrevResult(conf, result)))
        try plugin.del(flowRequest(.del, conf))
        #expect(node.container.links.map(\.name) == ["lo"])
        let noIPAM = #"{"cniVersion":"1.0.0","name":"n","type":"dummy"}"#
        let error = #expect(throws: CNIError.self) { try plugin.add(flowRequest(.add, noIPAM)) }
        #expect(error?.code == .invalidNetworkConfig)
    }
}
