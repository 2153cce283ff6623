import CNISkeleton
import FirewallPlugin
import PortmapPlugin
import Testing

/// portmap's order among containers that want one host port, and DEL with a prevResult that
/// says less than the ADD knew; firewall's fixed rules repaired once.
@Suite("portmap and firewall edge cases against a fake netfilter kernel")
struct PortmapEdgeTests {
    typealias Flow = NetfilterFlowTests

    static func portmap(_ mappings: String, ips: [String], version: String = "1.0.0") -> String {
        let list = ips.map { #"{"address":"\#($0)","interface":0}"# }.joined(separator: ",")
        return
            #"{"cniVersion":"\#(version)","name":"pm","type":"portmap","runtimeConfig":{"portMappings":\#(mappings)},"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/x"}],"ips":[\#(list)]}}"#
    }

    static let port8080 = #"[{"hostPort":8080,"containerPort":80}]"#

    @Test("A freed host port goes to the container that waited for it, not to the next one to ask")
    func waitingContainerKeepsItsTurn() throws {
        let fake = FakeNetfilter()
        let plugin = PortmapPlugin(kernel: Flow.kernel(fake))
        for (id, ip) in [("a", "10.9.0.2/24"), ("b", "10.9.0.3/24")] {
            _ = try plugin.add(Flow.request(.add, Self.portmap(Self.port8080, ips: [ip]), id: id))
        }
        try plugin.del(Flow.request(.del, Self.portmap(Self.port8080, ips: ["10.9.0.2/24"]), id: "a"))
        _ = try plugin.add(Flow.request(.add, Self.portmap(Self.port8080, ips: ["10.9.0.4/24"]), id: "c"))
        #expect(fake.elementComments(2, "cni_hostport", "hostport_map") == [], "the map slot stays free")
        #expect(fake.comments(2, "cni_hostport", "hostports") == ["b", "c"], "b first, then c")
        try plugin.check(Flow.request(.check, Self.portmap(Self.port8080, ips: ["10.9.0.4/24"]), id: "c"))
    }

    @Test("A mapping bound to a host IP that is taken waits in hostip_hostports, ahead of plain ports")
    func hostIPConflict() throws {
        let fake = FakeNetfilter()
        let plugin = PortmapPlugin(kernel: Flow.kernel(fake))
        let bound = #"[{"hostPort":9090,"containerPort":90,"hostIP":"10.0.0.1"}]"#
        for (id, ip) in [("b", "10.9.0.3/24"), ("c", "10.9.0.4/24")] {
            _ = try plugin.add(Flow.request(.add, Self.portmap(bound, ips: [ip]), id: id))
        }
        #expect(fake.elementComments(2, "cni_hostport", "hostip_hostport_map") == ["b"])
        #expect(fake.comments(2, "cni_hostport", "hostip_hostports") == ["c"])
        #expect(fake.comments(2, "cni_hostport", "hostports") == [])
    }

    @Test("DEL removes every family and address the ADD set up, whatever its prevResult lists")
    func delWithLessThanAdd() throws {
        for ips in [["10.9.0.2/24"], []] {
            let fake = FakeNetfilter()
            let plugin = PortmapPlugin(kernel: Flow.kernel(fake))
            _ = try plugin.add(Flow.request(.add, Self.portmap(Self.port8080, ips: ["10.9.0.2/24", "fd00::2/64"])))
            #expect(fake.sets.values.map(\.count).reduce(0, +) == 5, "v4 map, two v4 pairs, v6 map, one v6 pair")
            try plugin.del(Flow.request(.del, Self.portmap(Self.port8080, ips: ips)))
            #expect(fake.sets.values.allSatisfy { $0.isEmpty }, "prevResult \(ips): \(fake.sets)")
        }
    }

    @Test("ADD again with another address replaces the mapping and drops the old address's masquerading")
    func addAgainWithNewAddress() throws {
        let fake = FakeNetfilter()
        let plugin = PortmapPlugin(kernel: Flow.kernel(fake))
        _ = try plugin.add(Flow.request(.add, Self.portmap(Self.port8080, ips: ["10.9.0.2/24"])))
        _ = try plugin.add(Flow.request(.add, Self.portmap(Self.port8080, ips: ["10.9.0.5/24"])))
        #expect(fake.sets.values.map(\.count).reduce(0, +) == 3, "one mapping, two pairs: \(fake.sets)")
        try plugin.del(Flow.request(.del, Self.portmap(Self.port8080, ips: ["10.9.0.5/24"])))
        #expect(fake.sets.values.allSatisfy { $0.isEmpty }, "\(fake.sets)")
    }

    @Test("firewall: when one of its four address-set rules is deleted, the next ADD puts back exactly four")
    func firewallRepairsItsRules() throws {
        let fake = FakeNetfilter()
        let plugin = FirewallPlugin(kernel: Flow.kernel(fake))
        _ = try plugin.add(Flow.request(.add, Flow.firewall()))
        let key = "1 cni_plugins_firewall CNI-FORWARD"
        fake.chains[key]?.removeLast()
        for (id, address) in [("f2", "10.9.0.6"), ("f3", "10.9.0.7")] {
            _ = try plugin.add(Flow.request(.add, Flow.firewall(address: address), id: id))
        }
        let comments = fake.comments(1, "cni_plugins_firewall", "CNI-FORWARD")
        #expect(comments.filter { $0 == "CNI firewall plugin rules (pod addresses)" }.count == 4, "\(comments)")
    }
}
