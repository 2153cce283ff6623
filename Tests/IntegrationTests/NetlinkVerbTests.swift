import Foundation
import NetAddress
import Netlink
import Testing
import TestSupport

/// Every Netlink verb against the real kernel, each test in fresh `cnit-` namespaces, with
/// the outcome read back through `ip -j` / `bridge -j`.
@Suite(
    "Netlink verbs against the kernel", .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct NetlinkVerbTests {
    /// A namespace with a route socket opened inside it.
    struct Scratch {
        let ns: TestNamespace
        let handle: NetworkNamespace
        let route: RouteNetlink

        init(_ tag: String) throws {
            ns = try TestNamespace(tag)
            handle = try NetworkNamespace(path: ns.path)
            route = try handle.withEntered { try RouteNetlink() }
        }

        func link(_ name: String) throws -> [String: Any] {
            guard let link = try ns.ipJSON(["-d", "link", "show", name]).first else {
                throw TestFailure("no link \(name)")
            }
            return link
        }

        func kind(_ name: String) throws -> String? {
            (try link(name)["linkinfo"] as? [String: Any])?["info_kind"] as? String
        }
    }

    @Test("veth with the peer created directly in another netns, names, MACs and MTU as asked")
    func veth() throws {
        let host = try Scratch("nlh")
        let pod = try TestNamespace("nlp")
        defer { try? pod.remove(); try? host.ns.remove() }
        let podHandle = try NetworkNamespace(path: pod.path)
        try host.route.addLink(
            LinkSpec(
                name: "cnitveth0",
                kind: .veth(
                    peer: VethPeer(
                        name: "eth0", mtu: 1400, hardwareAddress: MACAddress("02:00:00:00:00:02"),
                        namespaceFD: podHandle.descriptor)
                ),
                mtu: 1400, hardwareAddress: MACAddress("02:00:00:00:00:01")))
        let hostSide = try host.link("cnitveth0")
        #expect(hostSide["address"] as? String == "02:00:00:00:00:01")
        #expect(hostSide["mtu"] as? Int == 1400)
        #expect(try host.kind("cnitveth0") == "veth")
        let podSide = try pod.ipJSON(["-d", "link", "show", "eth0"]).first
        #expect(podSide?["address"] as? String == "02:00:00:00:00:02")
        let link = try host.route.link(named: "cnitveth0")
        #expect(link.kind == "veth")
        #expect(link.linkNetnsID != nil, "the peer lives in another netns")
        #expect(link.hardwareAddress.description == "02:00:00:00:00:01")

        // EEXIST is a typed kernel error.
        do {
            try host.route.addLink(LinkSpec(name: "cnitveth0", kind: .veth(peer: VethPeer(name: "cnitveth1"))))
            Issue.record("expected EEXIST")
        } catch {
            #expect(error.kind == .kernel)
            #expect(error.errno == .fileExists)
        }
        try host.route.deleteLink(index: link.index)
        #expect(try pod.ipJSON(["link", "show"]).count == 1, "deleting one end removes the pair")
        do {
            try host.route.deleteLink(index: link.index)
            Issue.record("expected not found")
        } catch {
            #expect(error.kind == .notFound)
        }
    }

    @Test("bridge, macvlan on a veth, ifb: created, queried and compared with ip -d -j")
    func otherKinds() throws {
        let s = try Scratch("nlk")
        defer { try? s.ns.remove() }
        try s.route.addLink(LinkSpec(name: "cnitp0", kind: .veth(peer: VethPeer(name: "cnitp1"))))
        let parent = try s.route.link(named: "cnitp0")
        try s.route.addLink(LinkSpec(name: "cnitbr0", kind: .bridge(vlanFiltering: nil), mtu: 1450))
        try s.route.addLink(LinkSpec(name: "cnitmv0", kind: .macvlan(parent: parent.index, mode: .bridge)))
        try s.route.addLink(LinkSpec(name: "cnitmv1", kind: .macvlan(parent: parent.index, mode: .private)))
        try s.route.addLink(LinkSpec(name: "cnitifb0", kind: .ifb, txQueueLength: 32))
        #expect(try s.kind("cnitbr0") == "bridge")
        #expect(try s.link("cnitbr0")["mtu"] as? Int == 1450)
        #expect(try s.kind("cnitmv0") == "macvlan")
        let mvInfo = try s.link("cnitmv0")["linkinfo"] as? [String: Any]
        #expect((mvInfo?["info_data"] as? [String: Any])?["mode"] as? String == "bridge")
        let mv1Info = try s.link("cnitmv1")["linkinfo"] as? [String: Any]
        #expect((mv1Info?["info_data"] as? [String: Any])?["mode"] as? String == "private")
        #expect(try s.kind("cnitifb0") == "ifb")
        #expect(try s.link("cnitifb0")["txqlen"] as? Int == 32)
        let all = try s.route.links()
        #expect(Set(all.map(\.name)) == Set(try s.ns.ipJSON(["link", "show"]).map { $0["ifname"] as? String ?? "" }))
        #expect(all.first { $0.name == "cnitmv0" }?.kind == "macvlan")
    }

    @Test(
        "Kinds this kernel lacks fail with a typed error naming the missing support",
        arguments: ["ipvlan", "vlan", "dummy", "bridge VLAN filtering"])
    func unsupportedKinds(feature: String) throws {
        let s = try Scratch("nlu")
        defer { try? s.ns.remove() }
        try s.route.addLink(LinkSpec(name: "cnitp0", kind: .veth(peer: VethPeer(name: "cnitp1"))))
        let parent = try s.route.link(named: "cnitp0").index
        let spec: LinkSpec
        switch feature {
        case "ipvlan": spec = LinkSpec(name: "cnitx0", kind: .ipvlan(parent: parent, mode: .l2, flag: .bridge))
        case "vlan": spec = LinkSpec(name: "cnitx0", kind: .vlan(parent: parent, id: 100))
        case "dummy": spec = LinkSpec(name: "cnitx0", kind: .dummy)
        default: spec = LinkSpec(name: "cnitx0", kind: .bridge(vlanFiltering: true))
        }
        do {
            try s.route.addLink(spec)
            // A kernel that has the feature is fine too; then the link must exist.
            #expect(try s.route.link(named: "cnitx0").kind == spec.kind.name)
        } catch {
            #expect(error.kind == .unsupported)
            #expect(
                error.description.contains(
                    feature == "bridge VLAN filtering" ? "bridge VLAN filtering" : "\(feature) links"))
            #expect(throws: NetlinkError.self) { try s.route.link(named: "cnitx0") }
        }
    }

    @Test("Link changes: up, mtu, mac, name, promisc, allmulti, txqlen, master/nomaster, move to netns")
    func changes() throws {
        let s = try Scratch("nlc")
        let other = try TestNamespace("nlo")
        defer { try? other.remove(); try? s.ns.remove() }
        try s.route.addLink(LinkSpec(name: "cnitp0", kind: .veth(peer: VethPeer(name: "cnitp1"))))
        try s.route.addLink(LinkSpec(name: "cnitbr0", kind: .bridge(vlanFiltering: nil)))
        let index = try s.route.link(named: "cnitp0").index
        let bridge = try s.route.link(named: "cnitbr0").index
        try s.route.setLink(index: index, up: true)
        try s.route.setLink(index: index, .mtu(1300))
        try s.route.setLink(index: index, .hardwareAddress(MACAddress(bytes: [2, 0, 0, 0, 0, 0x42])))
        try s.route.setLink(index: index, .promiscuous(true))
        try s.route.setLink(index: index, .allMulticast(true))
        try s.route.setLink(index: index, .txQueueLength(77))
        try s.route.setLink(index: index, .master(bridge))
        var shown = try s.link("cnitp0")
        #expect((shown["flags"] as? [String])?.contains("UP") == true)
        #expect((shown["flags"] as? [String])?.contains("PROMISC") == true)
        #expect((shown["flags"] as? [String])?.contains("ALLMULTI") == true)
        #expect(shown["mtu"] as? Int == 1300)
        #expect(shown["address"] as? String == "02:00:00:00:00:42")
        #expect(shown["txqlen"] as? Int == 77)
        #expect(shown["master"] as? String == "cnitbr0")
        #expect(try s.route.link(index: index).masterIndex == bridge)

        try s.route.setBridgePort(index: index, [(.hairpin, true), (.learning, false), (.isolated, true)])
        let port = try Command.checked([
            "ip", "netns", "exec", s.ns.name, "bridge", "-j", "-d", "link", "show", "dev", "cnitp0",
        ])
        #expect(port.contains("\"hairpin\":true"))
        #expect(port.contains("\"learning\":false"))
        #expect(port.contains("\"isolated\":true"))

        try s.route.setLink(index: index, .master(nil))
        shown = try s.link("cnitp0")
        #expect(shown["master"] == nil)
        try s.route.setLink(index: index, up: false)
        try s.route.setLink(index: index, .name("cnitren0"))
        #expect(try s.route.link(index: index).name == "cnitren0")
        let otherHandle = try NetworkNamespace(path: other.path)
        try s.route.setLink(index: index, .namespace(fd: otherHandle.descriptor))
        #expect(try other.ipJSON(["link", "show", "cnitren0"]).count == 1)
        #expect(throws: NetlinkError.self) { try s.route.link(named: "cnitren0") }
    }

    @Test("Addresses and routes compared with ip -j; rules and neighbours; errors are typed")
    func addressesAndRoutes() throws {
        let s = try Scratch("nla")
        defer { try? s.ns.remove() }
        try s.route.addLink(LinkSpec(name: "cnitp0", kind: .veth(peer: VethPeer(name: "cnitp1"))))
        let index = try s.route.link(named: "cnitp0").index
        let peer = try s.route.link(named: "cnitp1").index
        try s.route.setLink(index: index, up: true)
        try s.route.setLink(index: peer, up: true)
        try s.route.addAddress(
            AddressSpec(index: index, address: prefix("10.1.2.3/24"), broadcast: ip("10.1.2.255")))
        try s.route.addAddress(AddressSpec(index: index, address: prefix("fd00::3/64"), flags: [.noDAD]))
        let shown = try s.ns.ipJSON(["addr", "show", "cnitp0"]).first?["addr_info"] as? [[String: Any]] ?? []
        #expect(
            shown.contains {
                $0["local"] as? String == "10.1.2.3" && $0["prefixlen"] as? Int == 24
                    && $0["broadcast"] as? String == "10.1.2.255"
            })
        #expect(shown.contains { $0["local"] as? String == "fd00::3" })
        #expect(try s.route.addresses(family: .inet, index: UInt32(index)).map(\.address) == [ip("10.1.2.3")])
        #expect(try s.route.waitForIPv6Settled(index: index))
        do {
            try s.route.addAddress(AddressSpec(index: index, address: prefix("10.1.2.3/24")))
            Issue.record("expected EEXIST")
        } catch { #expect(error.errno == .fileExists) }

        try s.route.addRoute(
            RouteSpec(
                destination: prefix("10.5.0.0/16"), gateway: ip("10.1.2.1"), outputIndex: index, priority: 50))
        try s.route.addRoute(
            RouteSpec(
                destination: prefix("10.6.0.0/16"), gateway: ip("10.1.2.1"), outputIndex: index, table: 100,
                mtu: 1400, advmss: 1360))
        try s.route.addRoute(
            RouteSpec(destination: prefix("0.0.0.0/0"), gateway: ip("10.1.2.1"), outputIndex: index))
        try s.route.addRoute(RouteSpec(destination: prefix("10.10.0.0/16"), type: .blackhole))
        let main = try s.ns.ipJSON(["route", "show"])
        #expect(
            main.contains {
                $0["dst"] as? String == "10.5.0.0/16" && $0["gateway"] as? String == "10.1.2.1"
                    && $0["metric"] as? Int == 50
            })
        #expect(main.contains { $0["dst"] as? String == "default" })
        #expect(main.contains { $0["type"] as? String == "blackhole" })
        let table100 = try s.ns.ipJSON(["route", "show", "table", "100"])
        #expect(table100.first?["dst"] as? String == "10.6.0.0/16")
        let metrics = table100.first?["metrics"] as? [[String: Any]] ?? []
        #expect(metrics.contains { $0["mtu"] as? Int == 1400 && $0["advmss"] as? Int == 1360 })
        let listed = try s.route.routes(family: .inet)
        #expect(
            listed.contains {
                $0.destination == prefix("10.6.0.0/16") && $0.table == 100 && $0.mtu == 1400 && $0.advmss == 1360
            })
        try s.route.deleteRoute(
            RouteSpec(
                destination: prefix("10.5.0.0/16"), gateway: ip("10.1.2.1"), outputIndex: index, priority: 50))
        #expect(!(try s.ns.ipJSON(["route", "show"])).contains { $0["dst"] as? String == "10.5.0.0/16" })
        do {
            try s.route.deleteRoute(RouteSpec(destination: prefix("10.5.0.0/16"), outputIndex: index))
            Issue.record("expected ESRCH")
        } catch { #expect(error.errno == .noSuchProcess) }

        let rule = RuleSpec(family: .inet, source: prefix("10.1.2.3/32"), table: 100, priority: 1000)
        try s.route.addRule(rule)
        let rules = try s.ns.ipJSON(["rule", "show"])
        #expect(
            rules.contains {
                $0["priority"] as? Int == 1000 && $0["src"] as? String == "10.1.2.3" && $0["table"] as? String == "100"
            })
        #expect(try s.route.rules(family: .inet).contains(rule))
        try s.route.deleteRule(rule)
        #expect(!(try s.ns.ipJSON(["rule", "show"])).contains { $0["priority"] as? Int == 1000 })

        try s.route.addNeighbour(
            NeighbourSpec(index: index, address: ip("10.1.2.9"), hardwareAddress: MACAddress("02:00:00:00:00:09")))
        let neighbours = try s.ns.ipJSON(["neigh", "show", "dev", "cnitp0"])
        #expect(
            neighbours.contains { $0["dst"] as? String == "10.1.2.9" && $0["lladdr"] as? String == "02:00:00:00:00:09" }
        )
        #expect(
            try s.route.neighbours(family: .inet).contains {
                $0.address == ip("10.1.2.9") && $0.state.contains(.permanent)
            })
        try s.route.deleteNeighbour(NeighbourSpec(index: index, address: ip("10.1.2.9")))
        #expect(try s.ns.ipJSON(["neigh", "show", "dev", "cnitp0"]).isEmpty)

        try s.route.deleteAddress(AddressSpec(index: index, address: prefix("10.1.2.3/24")))
        #expect(try s.route.addresses(family: .inet, index: UInt32(index)).isEmpty)
    }

    @Test("IPv4 device settings over netlink: read from the link message, set, and seen in /proc/sys")
    func ipv4Settings() throws {
        let s = try Scratch("nl4")
        defer { try? s.ns.remove() }
        try s.route.addLink(LinkSpec(name: "cnitp0", kind: .veth(peer: VethPeer(name: "cnitp1"))))
        let index = try s.route.link(named: "cnitp0").index
        #expect(try s.route.link(index: index).ipv4(.arpNotify) == 0)
        try s.route.setLink(index: index, .ipv4(.arpNotify, 1))
        try s.route.setLink(index: index, .ipv4(.routeLocalnet, 1))
        #expect(try s.route.link(index: index).ipv4(.arpNotify) == 1)
        #expect(try s.route.link(index: index).ipv4(.routeLocalnet) == 1)
        for key in ["arp_notify", "route_localnet"] {
            let shown = try s.ns.run(["sysctl", "-n", "net.ipv4.conf.cnitp0.\(key)"])
            #expect(shown.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(key)")
        }
        #expect(try s.route.link(named: "lo").ipv4(.routeLocalnet) == 0)
        try s.route.deleteLink(named: "cnitp0")
        #expect(try s.ns.ipJSON(["link", "show"]).count == 1, "the veth pair is gone by name")
        #expect(throws: NetlinkError.self) { try s.route.deleteLink(named: "cnitp0") }
        for value in ["1", "0"] {
            _ = try s.ns.run(["sysctl", "-w", "net.ipv4.ip_forward=\(value)"])
            #expect(try s.route.ipv4Forwarding() == (value == "1"))
        }
    }

    @Test("Sysctls are read and written inside the netns only")
    func sysctls() throws {
        let s = try Scratch("nls")
        defer { try? s.ns.remove() }
        let hostValue = try Sysctl.read("net.ipv4.ip_forward")
        let inside = try s.handle.withEntered { () throws -> String in
            try Sysctl.write("net/ipv4/ip_forward", hostValue == "1" ? "0" : "1")
            return try Sysctl.read("net.ipv4.ip_forward")
        }
        #expect(inside == (hostValue == "1" ? "0" : "1"))
        #expect(try Sysctl.read("net.ipv4.ip_forward") == hostValue, "the host value is untouched")
        let shown = try s.ns.run(["sysctl", "-n", "net.ipv4.ip_forward"])
        #expect(shown.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == inside)
    }
}

/// A fixture address from its text (`0.0.0.0` for a typo, which the kernel check then reveals).
func ip(_ text: String) -> IPAddress { IPAddress(text) ?? .v4(0) }

/// A fixture prefix from its text, `10.1.2.5/24`.
func prefix(_ text: String) -> IPPrefix { IPPrefix(text) ?? IPPrefix(address: .v4(0), prefixLength: 0) }
