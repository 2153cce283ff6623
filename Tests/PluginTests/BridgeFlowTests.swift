@testable import BridgePlugin
import CNISkeleton
import Netlink
import PluginSupport
import Testing

/// bridge's ADD, CHECK, DEL and GC against a fake node: the exact requests into the host
/// and the container, the rollback of a failed ADD, and an idempotent DEL, without root.
@Suite("bridge flow against a fake kernel")
struct BridgeFlowTests {
    static let conf =
        #"{"cniVersion":"1.0.0","name":"net","type":"bridge","bridge":"cni0","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local"}}"#
    static let veth = ContainerNetwork.vethName(AttachmentTag(network: "net", ifname: "eth0", containerID: "ctr1"))

    @Test("ADD: bridge, veth into the netns, address, routes, gateway, masquerade; CHECK; DEL twice")
    func addCheckDel() throws {
        let node = FakeNode()
        let plugin = BridgePlugin(kernel: node.kernel())
        var result = try plugin.add(flowRequest(.add, Self.conf))
        #expect(
            node.log == [
                "host: new link cni0 bridge", "host: set link cni0", "host: new link \(Self.veth) veth",
                "ctr: set link eth0", "ctr: new addr eth0 10.1.2.5/24",
                "ctr: set link eth0", "ctr: new route 0.0.0.0/0 via 10.1.2.1 dev eth0",
                "host: new addr cni0 10.1.2.1/24", "host: set link cni0",
            ])
        #expect(node.hostSysctls.writes.contains("net/ipv4/ip_forward=1"))
        #expect(node.containerSysctls.writes == ["net/ipv6/conf/eth0/accept_dad=0"])
        let eth0 = try #require(node.container.links.first { $0.name == "eth0" })
        #expect(eth0.ipv4 == [22: 1], "arp_notify over netlink")
        let bridge = try #require(node.host.links.first { $0.name == "cni0" })
        #expect(node.host.links.first { $0.name == Self.veth }?.master == bridge.index, "the host end is a port")
        #expect(result.interfaces.map(\.name) == ["cni0", Self.veth, "eth0"])
        #expect(result.ips.first?.interface == 2 && result.ips.first?.gateway == IPAddress("10.1.2.1"))
        #expect(node.netfilter.log.last?.hasPrefix("add element 1 cni_plugins_masquerade masq_sources_v4") == true)

        result.cniVersion = "1.0.0"
        let withPrev = try withPrevResult(Self.conf, result)
        try plugin.check(flowRequest(.check, withPrev))
        try plugin.del(flowRequest(.del, withPrev))
        #expect(node.log.last == "ctr: del link eth0")
        #expect(
            node.host.links.map(\.name) == ["lo", "cni0"], "the veth went with its container end; the bridge stays")
        #expect(node.container.links.map(\.name) == ["lo"])
        #expect(node.netfilter.elementComments(1, "cni_plugins_masquerade", "masq_sources_v4").isEmpty)
        #expect(node.ipam.log == ["add ctr1/eth0", "check ctr1/eth0", "del ctr1/eth0"])

        let (changes, rules) = (node.log.count, node.netfilter.log.count)
        try plugin.del(flowRequest(.del, withPrev))
        #expect(node.log.count == changes && node.netfilter.log.count == rules, "a second DEL changes nothing")
    }

    @Test("A failed step rolls back exactly what this ADD made, newest first: IPAM, veth, the bridge it created")
    func rollback() throws {
        let node = FakeNode()
        node.container.fail = { $0.hasPrefix("new route") ? 1 : nil }
        let plugin = BridgePlugin(kernel: node.kernel())
        #expect(throws: (any Error).self) { try plugin.add(flowRequest(.add, Self.conf)) }
        #expect(node.log.suffix(2) == ["host: del link \(Self.veth)", "host: del link cni0"], "\(node.log)")
        #expect(node.ipam.log == ["add ctr1/eth0", "del ctr1/eth0"])
        #expect(node.host.links.map(\.name) == ["lo"] && node.container.links.map(\.name) == ["lo"])
        #expect(node.netfilter.log.isEmpty, "masquerading comes after the failed step")
    }

    @Test("A failed IPAM ADD owns nothing: no IPAM DEL follows; the veth and the bridge this ADD made go")
    func ipamFails() throws {
        let node = FakeNode()
        node.ipam.failAdd = true
        #expect(throws: (any Error).self) { try BridgePlugin(kernel: node.kernel()).add(flowRequest(.add, Self.conf)) }
        #expect(node.ipam.log == ["add ctr1/eth0"])
        #expect(node.host.links.map(\.name) == ["lo"] && node.container.links.map(\.name) == ["lo"])
    }

    @Test("A repeated ADD of a live attachment fails before it touches anything, and keeps the live one")
    func repeatedAdd() throws {
        let node = FakeNode()
        let plugin = BridgePlugin(kernel: node.kernel())
        _ = try plugin.add(flowRequest(.add, Self.conf))
        let (changes, calls) = (node.log.count, node.ipam.log.count)
        #expect(throws: (any Error).self) { try plugin.add(flowRequest(.add, Self.conf)) }
        #expect(!node.log.dropFirst(changes).contains { $0.contains(": del ") }, "\(node.log)")
        #expect(!node.netfilter.log.contains { $0.hasPrefix("delete") }, "the live masquerade rules stay")
        #expect(node.ipam.log.count == calls, "no IPAM ADD, so no IPAM DEL of the live reservation")
        #expect(node.container.links.map(\.name) == ["lo", "eth0"])
    }

    @Test("DEL with the netns gone removes the host veth only when it is this attachment's bridge port")
    func delWithoutNetns() throws {
        for isPort in [true, false] {
            let node = FakeNode()
            var result = try BridgePlugin(kernel: node.kernel()).add(flowRequest(.add, Self.conf))
            result.cniVersion = "1.0.0"
            if !isPort, let i = node.host.links.firstIndex(where: { $0.name == Self.veth }) {
                node.host.links[i].master = nil
            }
            let gone = BridgePlugin(kernel: node.kernel(netnsGone: true))
            try gone.del(flowRequest(.del, withPrevResult(Self.conf, result)))
            #expect(node.host.links.contains { $0.name == Self.veth } == !isPort, "port: \(isPort)")
            #expect(node.ipam.log.last == "del ctr1/eth0")
        }
    }

    @Test("GC removes the masquerade rules of attachments missing from the valid list, and passes GC to IPAM")
    func gc() throws {
        let node = FakeNode()
        let plugin = BridgePlugin(kernel: node.kernel())
        _ = try plugin.add(flowRequest(.add, Self.conf))
        let keepOther =
            String(Self.conf.dropLast())
            + #","cni.dev/valid-attachments":[{"containerID":"other","ifname":"eth0"}]}"#
        try plugin.gc(flowRequest(.gc, keepOther))
        #expect(node.netfilter.elementComments(1, "cni_plugins_masquerade", "masq_sources_v4").isEmpty)
        #expect(node.ipam.log.last == "gc ctr1/eth0")
    }

    static let vlanConf =
        #"{"cniVersion":"1.0.0","name":"net","type":"bridge","bridge":"cni0","isGateway":true,"vlan":100,"ipam":{"type":"host-local"}}"#

    @Test("vlan + isGateway: the gateway address goes on cni0.100, whose peer is a VLAN 100 access port; kept on DEL")
    func vlanGateway() throws {
        let node = FakeNode()
        let plugin = BridgePlugin(kernel: node.kernel())
        var result = try plugin.add(flowRequest(.add, Self.vlanConf))
        let port = BridgeVlanGateway.portName(try BridgeConfig(flowRequest(.add, Self.vlanConf)))
        #expect(
            node.log.drop { !$0.contains("cni0.100") } == [
                "host: new link cni0.100 veth", "host: set link \(port)", "host: vlan del \(port) 1",
                "host: vlan add \(port) 100 pvid untagged", "host: set link \(port)", "host: set link cni0.100",
                "host: new addr cni0.100 10.1.2.1/24", "host: set link cni0.100",
            ])
        #expect(node.log.contains("host: vlan add \(Self.veth) 100 pvid untagged"), "the pod's port is on VLAN 100")
        let bridge = try #require(node.host.links.first { $0.name == "cni0" })
        #expect(node.host.links.first { $0.name == port }?.master == bridge.index)
        #expect(!node.log.contains { $0.hasPrefix("host: new addr cni0 ") }, "the bridge itself gets no address")
        #expect(result.interfaces.map(\.name) == ["cni0", Self.veth, "eth0", "cni0.100"])

        let second = try plugin.add(flowRequest(.add, Self.vlanConf, containerID: "ctr2", ifname: "eth1"))
        #expect(node.log.filter { $0 == "host: new link cni0.100 veth" }.count == 1, "made once per VLAN")
        #expect(second.interfaces.last?.name == "cni0.100")
        result.cniVersion = "1.0.0"
        try plugin.del(flowRequest(.del, withPrevResult(Self.vlanConf, result)))
        #expect(node.host.links.contains { $0.name == "cni0.100" } && node.host.links.contains { $0.name == port })
    }

    @Test("vlan + isGateway: a failure after the gateway was made removes it; a name over 15 bytes is code 7")
    func vlanGatewayRollback() throws {
        let node = FakeNode()
        node.host.fail = { $0 == "new addr cni0.100 10.1.2.1/24" ? 1 : nil }
        #expect(throws: (any Error).self) {
            try BridgePlugin(kernel: node.kernel()).add(flowRequest(.add, Self.vlanConf))
        }
        #expect(node.host.links.map(\.name) == ["lo"], "gateway pair, veth and bridge all undone: \(node.log)")
        let long = Self.vlanConf.replacing(#""bridge":"cni0""#, with: #""bridge":"bridge-of-pods""#)
        let error = #expect(throws: CNIError.self) {
            try BridgePlugin(kernel: FakeNode().kernel()).add(flowRequest(.add, long))
        }
        #expect(error?.code == .invalidNetworkConfig && error?.details == "key: bridge", "\(error?.msg ?? "")")
    }
}
