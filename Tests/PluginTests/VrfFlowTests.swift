import CNISkeleton
import Netlink
import PluginSupport
import Testing

@testable import VrfPlugin

/// vrf against a fake container (this kernel has no VRF driver): the VRF is created with the
/// first free table, the interface enslaved and its routes copied; a failure undoes it; DEL
/// releases the interface and removes the VRF once it is empty.
@Suite("vrf flow against a fake kernel")
struct VrfFlowTests {
    static let prevResult =
        #"{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/ctr"}],"ips":[{"address":"10.1.2.5/24","interface":0}]}"#
    static let conf =
        #"{"cniVersion":"1.0.0","name":"v","type":"vrf","vrfname":"blue","prevResult":\#(prevResult)}"#

    /// A container with `eth0`, its connected route and a route through a gateway.
    static func node() throws -> FakeNode {
        let node = FakeNode()
        node.container.links.append(.init(index: 2, name: "eth0", kind: "veth", up: true))
        let connection = RouteNetlink(connection: NetlinkConnection(transport: node.container))
        let subnet = try #require(IPPrefix("10.1.2.0/24")), far = try #require(IPPrefix("10.9.0.0/16"))
        try connection.addRoute(RouteSpec(destination: subnet, outputIndex: 2, scope: .link))
        try connection.addRoute(RouteSpec(destination: far, gateway: IPAddress("10.1.2.1"), outputIndex: 2))
        return node
    }

    static func tables(_ node: FakeNode) -> [String] {
        node.container.routes.compactMap { try? RouteSpec(payload: $0) }.map { "\($0.destination) \($0.table)" }
    }

    @Test("ADD creates the VRF (table 1), enslaves eth0, copies its route; CHECK; DEL removes it; DEL again")
    func addCheckDel() throws {
        let node = try Self.node()
        let plugin = VrfPlugin(kernel: node.kernel())
        _ = try plugin.add(flowRequest(.add, Self.conf))
        #expect(
            node.log.dropFirst(2) == [
                "ctr: new link blue vrf", "ctr: set link blue", "ctr: set link eth0",
                "ctr: new route 10.9.0.0/16 via 10.1.2.1 dev eth0 table 1",
            ])
        #expect(Self.tables(node) == ["10.9.0.0/16 1"], "saved before enslaving, which drops it from main")
        let vrf = try #require(node.container.links.first { $0.name == "blue" })
        #expect(node.container.links.first { $0.name == "eth0" }?.master == vrf.index)
        try plugin.check(flowRequest(.check, Self.conf))
        try plugin.del(flowRequest(.del, Self.conf))
        #expect(node.log.suffix(2) == ["ctr: set link eth0", "ctr: del link blue"])
        #expect(node.container.links.map(\.name) == ["lo", "eth0"])
        let changes = node.log.count
        try plugin.del(flowRequest(.del, Self.conf))
        try VrfPlugin(kernel: node.kernel(netnsGone: true)).del(flowRequest(.del, Self.conf))
        #expect(node.log.count == changes)
    }

    @Test("A second interface joins the existing VRF; the VRF stays until the last one leaves")
    func shared() throws {
        let node = try Self.node()
        node.container.links.append(.init(index: 50, name: "net1", kind: "veth", up: true))
        let plugin = VrfPlugin(kernel: node.kernel())
        _ = try plugin.add(flowRequest(.add, Self.conf))
        _ = try plugin.add(flowRequest(.add, Self.conf, ifname: "net1"))
        #expect(node.log.filter { $0.hasPrefix("ctr: new link") }.count == 1)
        try plugin.del(flowRequest(.del, Self.conf))
        #expect(node.container.links.contains { $0.name == "blue" }, "net1 is still in it")
        try plugin.del(flowRequest(.del, Self.conf, ifname: "net1"))
        #expect(!node.container.links.contains { $0.name == "blue" })
    }

    @Test("A failed route copy releases the interface and deletes the VRF this ADD created")
    func rollback() throws {
        let node = try Self.node()
        node.container.fail = { $0.contains("table 1") ? 1 : nil }
        #expect(throws: (any Error).self) { try VrfPlugin(kernel: node.kernel()).add(flowRequest(.add, Self.conf)) }
        #expect(
            node.log.suffix(3) == [
                "ctr: set link eth0", "ctr: new route 10.9.0.0/16 via 10.1.2.1 dev eth0", "ctr: del link blue",
            ], "\(node.log)")
        #expect(node.container.links.map(\.name) == ["lo", "eth0"])
        #expect(node.container.links.first { $0.name == "eth0" }?.master == nil)
        #expect(Self.tables(node) == ["10.9.0.0/16 254"], "the interface has its route back")
    }

    @Test("A failed ADD into an existing VRF leaves that VRF and its other interface alone")
    func rollbackExisting() throws {
        let node = try Self.node()
        node.container.links.append(.init(index: 50, name: "net1", kind: "veth", up: true))
        _ = try VrfPlugin(kernel: node.kernel()).add(flowRequest(.add, Self.conf, ifname: "net1"))
        node.container.fail = { $0.contains("table 1") ? 1 : nil }
        #expect(throws: (any Error).self) { try VrfPlugin(kernel: node.kernel()).add(flowRequest(.add, Self.conf)) }
        let vrf = try #require(node.container.links.first { $0.name == "blue" })
        #expect(node.container.links.first { $0.name == "net1" }?.master == vrf.index)
        #expect(node.container.links.first { $0.name == "eth0" }?.master == nil)
    }

    @Test("No VRF driver: ADD fails naming it, and leaves the interface alone")
    func missingDriver() throws {
        let node = try Self.node()
        node.container.fail = { $0 == "new link blue vrf" ? 95 : nil }
        let error = #expect(throws: CNIError.self) {
            try VrfPlugin(kernel: node.kernel()).add(flowRequest(.add, Self.conf))
        }
        #expect(error?.msg.contains("this kernel has no support for vrf links") == true, "\(error?.msg ?? "")")
        #expect(node.container.links.first { $0.name == "eth0" }?.master == nil)
    }
}
