import NetAddress
import Testing
@testable import Netlink

/// Every request kind the plugins need, emitted by our builders and compared byte for byte
/// with what iproute2 / bridge send for the same operation; then read back with our parsers.
@Suite("Golden bytes: links, addresses, routes, rules, neighbours, bridge ports")
struct GoldenVerbTests {
    typealias Recorder = GoldenRequestTests.Recorder

    /// Runs `body` against a connection whose kernel ACKs one request, returning the bytes sent.
    func sent(_ body: (RouteNetlink) throws(NetlinkError) -> Void) throws -> [UInt8] {
        let recorder = Recorder(replies: [GoldenRequestTests.ack(seq: 1)])
        try body(RouteNetlink(connection: NetlinkConnection(transport: recorder)))
        return recorder.sent.first ?? []
    }

    static let mac1 = MACAddress(bytes: [2, 0, 0, 0, 0, 1])

    static var masterUp: LinkSpec {
        var spec = LinkSpec(name: "cnitv4", kind: .veth(peer: VethPeer(name: "cnitv5", namespaceFD: 4)))
        (spec.master, spec.up) = (2, true)
        return spec
    }

    @Test("Link creation: veth (peer in another netns), bridge, macvlan, ipvlan, vlan, ifb")
    func createLinks() throws {
        let cases: [(LinkSpec, [UInt8])] = [
            (
                LinkSpec(
                    name: "cnitv0",
                    kind: .veth(
                        peer: VethPeer(
                            name: "cnitv1", mtu: 1400, hardwareAddress: MACAddress(bytes: [2, 0, 0, 0, 0, 2]),
                            namespaceFD: 4)),
                    mtu: 1400, hardwareAddress: Self.mac1), Fixtures.vethFull
            ),
            (LinkSpec(name: "cnitv2", kind: .veth(peer: VethPeer(name: "cnitv3"))), Fixtures.vethPlain),
            (Self.masterUp, Fixtures.vethMasterUp),
            (LinkSpec(name: "cnitbr1", kind: .bridge(vlanFiltering: nil)), Fixtures.bridge),
            (
                LinkSpec(
                    name: "cnitbr2", kind: .bridge(vlanFiltering: true), mtu: 1450,
                    hardwareAddress: MACAddress(bytes: [2, 0, 0, 0, 0, 3])),
                Fixtures.bridgeVlanFiltering
            ),
            (LinkSpec(name: "cnitmv0", kind: .macvlan(parent: 2, mode: .bridge)), Fixtures.macvlan),
            (LinkSpec(name: "cnitiv0", kind: .ipvlan(parent: 2, mode: .l3, flag: .private)), Fixtures.ipvlan),
            (LinkSpec(name: "cnitvl0", kind: .vlan(parent: 2, id: 100)), Fixtures.vlan),
            (LinkSpec(name: "cnitifb1", kind: .ifb), Fixtures.ifb),
            (LinkSpec(name: "cnitdm0", kind: .dummy), Fixtures.dummy),
            (LinkSpec(name: "cnitvrf0", kind: .vrf(table: 1010)), Fixtures.vrf),
        ]
        for (spec, golden) in cases {
            #expect(try sent { r throws(NetlinkError) in try r.addLink(spec) } == golden, "\(spec.name)")
            // Read back: the request is an RTM_NEWLINK like the kernel's replies.
            let message = try #require(try NetlinkMessage.parse(golden).first)
            let link = try Link(payload: message.payload)
            #expect(link.name == spec.name)
            #expect(link.kind == spec.kind.name)
            #expect(link.mtu == spec.mtu ?? 0)
            #expect(link.hardwareAddress == (spec.hardwareAddress ?? MACAddress(bytes: [])))
        }
    }

    @Test("Link changes: mtu, address, txqlen, promisc, allmulti, master, nomaster, netns, name; delete")
    func changeLinks() throws {
        let cases: [(Int32, RouteNetlink.LinkChange, [UInt8])] = [
            (3, .mtu(1400), Fixtures.setMTU),
            (3, .hardwareAddress(MACAddress(bytes: [2, 0, 0, 0, 0, 9])), Fixtures.setAddress),
            (3, .txQueueLength(500), Fixtures.setTxqlen),
            (3, .promiscuous(true), Fixtures.setPromisc),
            (3, .ipv4(.arpNotify, 1), Fixtures.setArpNotify),
            (3, .allMulticast(false), Fixtures.setAllmulti),
            (2, .master(4), Fixtures.setMaster),
            (2, .master(nil), Fixtures.setNomaster),
            (5, .namespace(fd: 4), Fixtures.setNetns),
            (2, .name("cnitp9"), Fixtures.rename),
        ]
        for (index, change, golden) in cases {
            #expect(try sent { r throws(NetlinkError) in try r.setLink(index: index, change) } == golden, "\(change)")
            let message = try #require(try NetlinkMessage.parse(golden).first)
            #expect(try Link(payload: message.payload).index == index)
        }
        #expect(try sent { r throws(NetlinkError) in try r.deleteLink(index: 8) } == Fixtures.delLink)
        #expect(try sent { r throws(NetlinkError) in try r.deleteLink(named: "cnitv0") } == Fixtures.delLinkByName)
    }

    @Test("Addresses: IPv4, with broadcast, IPv6 nodad noprefixroute, point-to-point peer; delete")
    func addresses() throws {
        let cases: [(AddressSpec, [UInt8])] = [
            (AddressSpec(index: 3, address: prefix("10.1.2.5/24")), Fixtures.addAddr),
            (
                AddressSpec(index: 3, address: prefix("10.1.2.6/24"), broadcast: ip("10.1.2.255")),
                Fixtures.addAddrBroadcast
            ),
            (
                AddressSpec(index: 3, address: prefix("fd00::3/64"), flags: [.noDAD, .noPrefixRoute]),
                Fixtures.addAddr6
            ),
            (
                AddressSpec(index: 3, address: prefix("10.9.0.1/32"), peer: ip("10.9.0.2")),
                Fixtures.addAddrPeer
            ),
        ]
        for (spec, golden) in cases {
            #expect(try sent { r throws(NetlinkError) in try r.addAddress(spec) } == golden)
            let parsed = try InterfaceAddress(payload: #require(try NetlinkMessage.parse(golden).first).payload)
            #expect(parsed.prefix == spec.address)
            #expect(parsed.index == 3)
            #expect(AddressFlags(rawValue: parsed.flags) == spec.flags)
        }
        let delete = AddressSpec(index: 3, address: prefix("10.1.2.4/24"))
        #expect(try sent { r throws(NetlinkError) in try r.deleteAddress(delete) } == Fixtures.delAddr)
    }

    static let gw = ip("10.1.2.1")

    @Test("Routes: full attributes, replace, onlink, blackhole, link scope, local, default; delete")
    func routes() throws {
        let full = RouteSpec(
            destination: prefix("10.6.0.0/16"), gateway: Self.gw, preferredSource: ip("10.1.2.3"),
            outputIndex: 3, priority: 100, table: 100, mtu: 1400, advmss: 1360)
        let cases: [(RouteSpec, Bool, [UInt8])] = [
            (full, false, Fixtures.addRoute),
            (
                RouteSpec(destination: prefix("10.7.0.0/16"), gateway: Self.gw, outputIndex: 3), true,
                Fixtures.replaceRoute
            ),
            (
                RouteSpec(
                    destination: prefix("10.8.0.0/16"), gateway: ip("10.99.0.1"), outputIndex: 3,
                    onLink: true), false, Fixtures.onlinkRoute
            ),
            (
                RouteSpec(destination: prefix("10.10.0.0/16"), type: .blackhole), false,
                Fixtures.blackholeRoute
            ),
            (
                RouteSpec(destination: prefix("10.11.0.1/32"), outputIndex: 3, scope: .link), false,
                Fixtures.linkScopeRoute
            ),
            (
                RouteSpec(
                    destination: prefix("10.12.0.1/32"), outputIndex: 3, table: 100, scope: .host,
                    type: .local), false, Fixtures.localRoute
            ),
            (
                RouteSpec(destination: prefix("0.0.0.0/0"), gateway: Self.gw, outputIndex: 3), false,
                Fixtures.defaultRoute
            ),
        ]
        for (route, replace, golden) in cases {
            #expect(
                try sent { r throws(NetlinkError) in replace ? try r.replaceRoute(route) : try r.addRoute(route) }
                    == golden)
            let parsed = try RouteSpec(payload: #require(try NetlinkMessage.parse(golden).first).payload)
            #expect(parsed == route)
        }
        let delete = RouteSpec(destination: prefix("10.5.0.0/16"), gateway: Self.gw, outputIndex: 3)
        #expect(try sent { r throws(NetlinkError) in try r.deleteRoute(delete) } == Fixtures.delRoute)
    }

    @Test("Rules and neighbours")
    func rulesAndNeighbours() throws {
        let add = RuleSpec(family: .inet, source: prefix("10.1.2.4/32"), table: 100, priority: 1001)
        #expect(try sent { r throws(NetlinkError) in try r.addRule(add) } == Fixtures.addRule)
        #expect(try RuleSpec(payload: #require(try NetlinkMessage.parse(Fixtures.addRule).first).payload) == add)
        let del = RuleSpec(family: .inet, source: prefix("10.1.2.3/32"), table: 100, priority: 1000)
        #expect(try sent { r throws(NetlinkError) in try r.deleteRule(del) } == Fixtures.delRule)

        let neighbour = NeighbourSpec(
            index: 3, address: ip("10.1.2.8"), hardwareAddress: MACAddress(bytes: [2, 0, 0, 0, 0, 0x0b]))
        #expect(try sent { r throws(NetlinkError) in try r.addNeighbour(neighbour) } == Fixtures.addNeigh)
        #expect(
            try NeighbourSpec(payload: #require(try NetlinkMessage.parse(Fixtures.addNeigh).first).payload) == neighbour
        )
        let gone = NeighbourSpec(index: 3, address: ip("10.1.2.9"))
        #expect(try sent { r throws(NetlinkError) in try r.deleteNeighbour(gone) } == Fixtures.delNeigh)
    }

    @Test("Bridge ports: hairpin, learning, isolated; VLAN add (pvid untagged) and delete")
    func bridgePorts() throws {
        #expect(
            try sent { r throws(NetlinkError) in try r.setBridgePort(index: 3, [(.hairpin, true)]) } == Fixtures.hairpin
        )
        #expect(
            try sent { r throws(NetlinkError) in try r.setBridgePort(index: 3, [(.learning, false)]) }
                == Fixtures.learning)
        #expect(
            try sent { r throws(NetlinkError) in try r.setBridgePort(index: 3, [(.isolated, true)]) }
                == Fixtures.isolated)
        let vlan = BridgeVlan(id: 100, pvid: true, untagged: true)
        #expect(try sent { r throws(NetlinkError) in try r.addBridgeVlan(index: 3, vlan) } == Fixtures.vlanAdd)
        #expect(try sent { r throws(NetlinkError) in try r.deleteBridgeVlan(index: 3, vlan) } == Fixtures.vlanDel)
    }
}
