import CNISkeleton
import FirewallPlugin
import Netfilter
import Netlink
import PluginSupport
import PortmapPlugin
import Testing

/// portmap's and firewall's ADD, DEL, CHECK and GC against a fake netfilter kernel: no root,
/// the exact operations checked.
@Suite("portmap and firewall flows against a fake netfilter kernel")
struct NetfilterFlowTests {
    static let prevResult =
        #"{"cniVersion":"1.0.0","interfaces":[{"name":"br0"},{"name":"veth1"},{"name":"eth0","sandbox":"/run/netns/x"}],"ips":[{"address":"10.9.0.5/24","gateway":"10.9.0.1","interface":2}]}"#

    static func request(_ command: CNICommand, _ json: String, id: String = "ctr1") throws -> CNIRequest {
        guard case .object(let object) = try JSONParser.parse(json) else {
            throw CNIError(.decodingFailure, "not an object")
        }
        return CNIRequest(
            command: command, containerID: id, netns: "/run/netns/x", ifname: "eth0", args: CNIArgs(""), path: [],
            stdin: Array(json.utf8), config: try NetworkConfig(object: object))
    }

    /// Conntrack deletions a plugin asked for: (family, protocol, port).
    final class ConntrackLog: @unchecked Sendable {
        // @unchecked: the tests run one plugin call at a time.
        var calls: [[Int]] = []
    }

    /// A kernel context whose netfilter connections all reach `fake`; no route netlink.
    static func kernel(_ fake: FakeNetfilter, conntrack: ConntrackLog = ConntrackLog()) -> KernelContext {
        nonisolated(unsafe) let shared = fake
        return KernelContext(
            netfilter: { NFTClient(transport: shared, deletions: .unmarked) },
            hostRoute: { throw NetlinkError(kind: .unsupported, operation: "no route netlink in this test") },
            deleteConntrack: { family, proto, port, destination in
                conntrack.calls.append([Int(family), Int(proto), Int(port)] + (destination?.bytes ?? []).map(Int.init))
                return 0
            })
    }

    static func portmap(_ port: Int, protocol proto: String = "tcp", address: String = "10.9.0.5") -> String {
        let prev = prevResult.replacing("10.9.0.5", with: address)
        return
            #"{"cniVersion":"1.0.0","name":"pm","type":"portmap","runtimeConfig":{"portMappings":[{"hostPort":\#(port),"containerPort":80,"protocol":"\#(proto)"}]},"prevResult":\#(prev)}"#
    }

    @Test("portmap: the first ADD builds the structure; later ADDs only add rules; DEL removes exactly its own")
    func portmapFlow() throws {
        let fake = FakeNetfilter()
        let plugin = PortmapPlugin(kernel: Self.kernel(fake))
        _ = try plugin.add(Self.request(.add, Self.portmap(8080)))
        #expect(fake.log.contains("add chain 2 cni_hostport prerouting"))
        #expect(fake.elementComments(2, "cni_hostport", "hostport_map") == ["ctr1"])
        #expect(fake.elementComments(2, "cni_hostport", "masquerade_pairs") == ["ctr1", "ctr1"], "hairpin, localhost")
        let afterFirst = fake.log.count
        _ = try plugin.add(Self.request(.add, Self.portmap(8081, address: "10.9.0.6"), id: "ctr2"))
        let second = fake.log.dropFirst(afterFirst)
        #expect(
            second.allSatisfy { $0.hasPrefix("add element") }, "no table, chain or flush on the second ADD: \(second)")
        try plugin.check(Self.request(.check, Self.portmap(8081, address: "10.9.0.6"), id: "ctr2"))
        try plugin.del(Self.request(.del, Self.portmap(8080)))
        #expect(fake.elementComments(2, "cni_hostport", "hostport_map") == ["ctr2"])
        #expect(fake.elementComments(2, "cni_hostport", "masquerade_pairs") == ["ctr2", "ctr2"])
        let batches = fake.batches
        try plugin.del(Self.request(.del, Self.portmap(8080)))
        #expect(fake.batches == batches, "a second DEL finds nothing and sends no batch")
        #expect(throws: CNIError.self) { try plugin.check(Self.request(.check, Self.portmap(8080))) }
    }

    @Test("portmap: a host port already held gets a rule that takes over; a DEL without config or prevResult lists")
    func portmapConflict() throws {
        let fake = FakeNetfilter()
        let plugin = PortmapPlugin(kernel: Self.kernel(fake))
        _ = try plugin.add(Self.request(.add, Self.portmap(8080)))
        let second = Self.portmap(8080, address: "10.9.0.6")
        _ = try plugin.add(Self.request(.add, second, id: "ctr2"))
        #expect(fake.elementComments(2, "cni_hostport", "hostport_map") == ["ctr1"], "first come, first served")
        #expect(fake.comments(2, "cni_hostport", "hostports") == ["ctr2"])
        try plugin.check(Self.request(.check, second, id: "ctr2"))
        // Unreadable mappings: the plugin cannot know the keys, so it lists the sets.
        let unreadable = #"{"cniVersion":"1.0.0","name":"pm","type":"portmap","runtimeConfig":{"portMappings":7}}"#
        try plugin.del(Self.request(.del, unreadable))
        #expect(fake.elementComments(2, "cni_hostport", "hostport_map") == [])
        #expect(fake.elementComments(2, "cni_hostport", "masquerade_pairs") == ["ctr2", "ctr2"])
        try plugin.del(Self.request(.del, second, id: "ctr2"))
        #expect(fake.comments(2, "cni_hostport", "hostports") == [])
        #expect(fake.sets.values.allSatisfy { $0.isEmpty }, "\(fake.sets)")
    }

    @Test("portmap: a container ID too long for a comment is cut with a hash, and DEL still finds its entries")
    func longContainerID() throws {
        let fake = FakeNetfilter()
        let plugin = PortmapPlugin(kernel: Self.kernel(fake))
        let (long, other) = (String(repeating: "a", count: 300), String(repeating: "a", count: 299) + "b")
        _ = try plugin.add(Self.request(.add, Self.portmap(8080), id: long))
        _ = try plugin.add(Self.request(.add, Self.portmap(8081, address: "10.9.0.6"), id: other))
        let comments = fake.elementComments(2, "cni_hostport", "hostport_map")
        #expect(comments.count == 2 && Set(comments).count == 2 && comments.allSatisfy { ($0?.utf8.count ?? 0) < 200 })
        try plugin.del(Self.request(.del, Self.portmap(8080), id: long))
        #expect(fake.elementComments(2, "cni_hostport", "hostport_map") == [comments[1]], "only its own went")
    }

    static func firewall(_ extra: String = "", address: String = "10.9.0.5") -> String {
        let prev = prevResult.replacing("10.9.0.5", with: address)
        return #"{"cniVersion":"1.1.0","name":"fw","type":"firewall"\#(extra),"prevResult":\#(prev)}"#
    }

    @Test("firewall: admin jump once, the address sets' rules once, one element per address, DEL and GC by attachment")
    func firewallFlow() throws {
        let fake = FakeNetfilter()
        let plugin = FirewallPlugin(kernel: Self.kernel(fake))
        _ = try plugin.add(Self.request(.add, Self.firewall()))
        let filter = { fake.comments(1, "cni_plugins_firewall", "CNI-FORWARD") }
        let held = { fake.elementComments(1, "cni_plugins_firewall", "pod_addresses_v4").compactMap { $0 } }
        #expect(filter().first == "CNI firewall plugin admin overrides: CNI-ADMIN")
        #expect(filter().count == 5, "the admin jump and the sets' four rules: \(filter())")
        #expect(held().count == 1 && held()[0].contains("id: ctr1"))
        _ = try plugin.add(Self.request(.add, Self.firewall()))
        #expect(filter().count == 5 && held().count == 1, "a repeated ADD changes nothing")
        _ = try plugin.add(Self.request(.add, Self.firewall(address: "10.9.0.6"), id: "ctr2"))
        _ = try plugin.add(Self.request(.add, Self.firewall(address: "10.9.0.7"), id: "ctr3"))
        #expect(held().count == 3 && filter().count == 5)
        try plugin.check(Self.request(.check, Self.firewall(address: "10.9.0.6"), id: "ctr2"))
        try plugin.del(Self.request(.del, Self.firewall(address: "10.9.0.6"), id: "ctr2"))
        #expect(held().count == 2 && !held().contains { $0.contains("id: ctr2") })
        let gc =
            #"{"cniVersion":"1.1.0","name":"fw","type":"firewall","cni.dev/valid-attachments":[{"containerID":"ctr3","ifname":"eth0"}]}"#
        // GC also reads the host's bridges for isolation rules; none exist here, so it stops there.
        _ = try? plugin.gc(Self.request(.gc, gc, id: ""))
        #expect(held().count == 1 && held()[0].contains("id: ctr3"), "ctr1 collected, ctr3 kept: \(held())")
    }

    @Test("portmap deletes the conntrack entries of UDP host ports after ADD and DEL, in the container's family only")
    func conntrack() throws {
        let fake = FakeNetfilter()
        let log = ConntrackLog()
        let plugin = PortmapPlugin(kernel: Self.kernel(fake, conntrack: log))
        let udp = Self.portmap(8080, protocol: "udp")
        _ = try plugin.add(Self.request(.add, udp))
        #expect(log.calls == [[2, 17, 8080]])
        try plugin.del(Self.request(.del, udp))
        #expect(log.calls == [[2, 17, 8080], [2, 17, 8080]], "DEL flushes only the container's family")
        _ = try plugin.add(Self.request(.add, Self.portmap(8081, address: "10.9.0.6"), id: "ctr2"))
        #expect(log.calls.count == 2, "TCP mappings leave conntrack alone")
    }

    @Test("A mapping bound to a host IP flushes only the entries to that address, in its family")
    func conntrackHostIP() throws {
        let log = ConntrackLog()
        let plugin = PortmapPlugin(kernel: Self.kernel(FakeNetfilter(), conntrack: log))
        let bound = Self.portmap(5353, protocol: "udp")
            .split(separator: #""protocol":"udp""#).joined(separator: #""protocol":"udp","hostIP":"198.51.100.9""#)
        _ = try plugin.add(Self.request(.add, bound))
        #expect(log.calls == [[2, 17, 5353, 198, 51, 100, 9]])
    }
}
