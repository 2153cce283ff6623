@testable import PtpPlugin
import CNISkeleton
import Netlink
import PluginSupport
import Testing

/// ptp's ADD, CHECK and DEL against a fake node, and the rollback of a failed ADD.
@Suite("ptp flow against a fake kernel")
struct PtpFlowTests {
    static let conf =
        #"{"cniVersion":"1.0.0","name":"p2p","type":"ptp","ipMasq":true,"ipam":{"type":"host-local"}}"#
    static let veth = ContainerNetwork.vethName(AttachmentTag(network: "p2p", ifname: "eth0", containerID: "ctr1"))

    @Test("ADD: veth, container address and routes through the gateway, gateway /32 and host route; CHECK; DEL")
    func addCheckDel() throws {
        let node = FakeNode()
        let plugin = PtpPlugin(kernel: node.kernel())
        var result = try plugin.add(flowRequest(.add, Self.conf))
        #expect(
            node.log == [
                "host: new link \(Self.veth) veth", "ctr: new addr eth0 10.1.2.5/24",
                "ctr: set link eth0", "ctr: new route 0.0.0.0/0 via 10.1.2.1 dev eth0",
                "ctr: del route 10.1.2.0/24 dev eth0", "ctr: new route 10.1.2.1/32 dev eth0",
                "ctr: new route 10.1.2.0/24 via 10.1.2.1 dev eth0", "host: new addr \(Self.veth) 10.1.2.1/32",
                "host: new route 10.1.2.5/32 dev \(Self.veth)",
            ])
        #expect(node.hostSysctls.writes.contains("net/ipv4/ip_forward=1"))
        #expect(result.interfaces.map(\.name) == [Self.veth, "eth0"] && result.ips.first?.interface == 1)
        result.cniVersion = "1.0.0"
        let withPrev = try withPrevResult(Self.conf, result)
        try plugin.check(flowRequest(.check, withPrev))
        try plugin.del(flowRequest(.del, withPrev))
        #expect(node.host.links.map(\.name) == ["lo"] && node.container.links.map(\.name) == ["lo"])
        #expect(node.host.routes.isEmpty && node.host.addresses.isEmpty, "they went with the veth")
        #expect(node.netfilter.elementComments(1, "cni_plugins_masquerade", "masq_sources_v4").isEmpty)
        #expect(node.ipam.log == ["add ctr1/eth0", "check ctr1/eth0", "del ctr1/eth0"])
        let changes = node.log.count
        try plugin.del(flowRequest(.del, withPrev))
        #expect(node.log.count == changes, "a second DEL changes nothing")
    }

    @Test("A failed host step removes the veth and releases the reservation")
    func rollback() throws {
        let node = FakeNode()
        node.host.fail = { $0.hasPrefix("new addr") ? 1 : nil }
        #expect(throws: (any Error).self) { try PtpPlugin(kernel: node.kernel()).add(flowRequest(.add, Self.conf)) }
        #expect(node.log.last == "host: del link \(Self.veth)", "\(node.log)")
        #expect(node.ipam.log == ["add ctr1/eth0", "del ctr1/eth0"])
        #expect(node.host.links.map(\.name) == ["lo"] && node.container.links.map(\.name) == ["lo"])
    }

    @Test("DEL with the netns gone removes the host veth only when it carries the attachment's host route")
    func delWithoutNetns() throws {
        for ours in [true, false] {
            let node = FakeNode()
            var result = try PtpPlugin(kernel: node.kernel()).add(flowRequest(.add, Self.conf))
            result.cniVersion = "1.0.0"
            if !ours { node.host.routes.removeAll() }
            try PtpPlugin(kernel: node.kernel(netnsGone: true)).del(
                flowRequest(.del, withPrevResult(Self.conf, result)))
            #expect(node.host.links.contains { $0.name == Self.veth } == !ours, "ours: \(ours)")
        }
    }
}
