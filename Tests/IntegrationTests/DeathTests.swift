import Foundation
import Testing
import TestSupport

/// A death at every step of ADD: the debug build's fault point (`SWIFT_CNI_FAULT`) makes the
/// plugin exit right before its k-th change, for k = 0, 1, 2, ... until ADD completes. After
/// each death the runtime's DEL and GC must bring the node back to exactly what it held
/// before: no link, address, route, qdisc, nftables rule or element, reservation, backup or
/// temporary file. Prints the table of plugins and steps.
@Suite("A death at every step of ADD: DEL and GC leave nothing", .enabled(if: TestEnvironment.isRoot, "needs root"))
struct DeathTests {
    /// The scenarios: the chain and which of its plugins dies.
    static func scenarios(_ dataDir: String) -> [(name: String, chain: PluginChain, victim: String)] {
        func ipam(_ subnet: String) -> String {
            #""ipam":{"type":"host-local","subnet":"\#(subnet)","dataDir":"\#(dataDir)/ipam"}"#
        }
        let bridge = (
            "bridge",
            #""bridge":"cnitdb0","isGateway":true,"ipMasq":true,"macspoofchk":true,\#(ipam("10.87.0.0/24"))"#
        )
        let ports =
            #""runtimeConfig":{"portMappings":[{"hostPort":30090,"containerPort":80,"protocol":"tcp"},{"hostPort":30091,"containerPort":53,"protocol":"udp"}]}"#
        return [
            ("bridge", PluginChain(plugins: [bridge]), "bridge"),
            ("ptp", PluginChain(plugins: [("ptp", #""ipMasq":true,\#(ipam("10.88.0.0/24"))"#)]), "ptp"),
            (
                "macvlan", PluginChain(plugins: [("macvlan", #""master":"cnitdm0",\#(ipam("10.89.0.0/24"))"#)]),
                "macvlan"
            ),
            ("host-device", PluginChain(plugins: [("host-device", #""device":"cnitdh1""#)]), "host-device"),
            ("tap", PluginChain(plugins: [("tap", #""mtu":1400,\#(ipam("10.90.0.0/24"))"#)]), "tap"),
            ("portmap", PluginChain(plugins: [bridge, ("portmap", ports)]), "portmap"),
            (
                "bandwidth",
                PluginChain(plugins: [
                    bridge,
                    (
                        "bandwidth",
                        #""ingressRate":8000000,"ingressBurst":800000,"egressRate":8000000,"egressBurst":800000"#
                    ),
                ]), "bandwidth"
            ),
            (
                "tuning",
                PluginChain(plugins: [
                    bridge,
                    (
                        "tuning",
                        #""mac":"02:00:00:00:ab:01","mtu":1400,"sysctl":{"net.ipv4.conf.IFNAME.arp_filter":"1"},"dataDir":"\#(dataDir)/tuning""#
                    ),
                ]), "tuning"
            ),
            ("firewall", PluginChain(plugins: [bridge, ("firewall", "")]), "firewall"),
        ]
    }

    /// The node: the macvlan master and the host-device device exist before any pod.
    static func node() throws -> Node {
        let node = try Node("death")
        for argv in [
            ["ip", "-n", node.ns.name, "link", "add", "cnitdm0", "type", "veth", "peer", "name", "cnitdm1"],
            ["ip", "-n", node.ns.name, "link", "set", "cnitdm0", "up"],
            ["ip", "-n", node.ns.name, "link", "add", "cnitdh0", "type", "veth", "peer", "name", "cnitdh1"],
        ] {
            try Command.checked(argv)
        }
        return node
    }

    @Test("Every step of bridge, ptp, macvlan, host-device, tap, portmap, bandwidth, tuning and firewall")
    func everyStep() throws {
        let node = try Self.node()
        defer { node.tearDown() }
        let binaries = TestEnvironment.debugPluginDirectory
        var table: [String] = []
        for (name, chain, victim) in Self.scenarios(node.dataDir) {
            // A full ADD and DEL first, so the baseline holds what outlives a pod (the bridge,
            // the nftables tables and base chains, the IPAM directory).
            let warm = try node.pod("dw")
            _ = try chain.add(node, pod: warm, binaries: binaries)
            _ = try chain.cleanUp(node, pod: warm, binaries: binaries)
            try warm.remove()
            let baseline = try NodeState(node)
            var steps = 0
            for k in 0...80 {
                let pod = try node.pod("dk")
                let (failed, last) = try chain.add(
                    node, pod: pod, binaries: binaries, environment: ["SWIFT_CNI_FAULT": "\(victim):\(k)"])
                let died = failed != nil
                if let failed, let last {
                    #expect(
                        chain.plugins[failed].type == victim, "\(name) k=\(k): \(chain.plugins[failed].type) failed")
                    #expect(last.status == 1 && last.stdout.isEmpty, "\(name) k=\(k): a death prints nothing: \(last)")
                }
                let failures = try chain.cleanUp(node, pod: pod, binaries: binaries)
                #expect(failures.isEmpty, "\(name) k=\(k): \(failures)")
                let left = try NodeState(node).difference(from: baseline)
                #expect(left.isEmpty, "\(name) died before change \(k): \(left)")
                try pod.remove()
                if !died {
                    steps = k
                    break
                }
            }
            #expect(steps > 0, "\(name): ADD never completed")
            table.append("\(name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(steps) steps, each survived")
        }
        print("A death at every step of ADD (plugin, changes before ADD completes):\n" + table.joined(separator: "\n"))
    }

    @Test("SIGKILL at random moments of the release build's bridge and portmap ADD, then DEL and GC: nothing left")
    func randomKills() throws {
        let node = try Self.node()
        defer { node.tearDown() }
        let binaries = TestEnvironment.pluginDirectory
        let scenarios = Self.scenarios(node.dataDir)
        let chain = try #require(scenarios.first { $0.name == "portmap" }).chain
        let warm = try node.pod("dw")
        _ = try chain.add(node, pod: warm, binaries: binaries)
        _ = try chain.cleanUp(node, pod: warm, binaries: binaries)
        try warm.remove()
        let baseline = try NodeState(node)
        var kills: [String] = []
        for round in 0..<16 {
            let pod = try node.pod("dr")
            // Kill bridge in the first half of the rounds, portmap (after a whole bridge ADD) in the rest.
            let victim = round < 8 ? 0 : 1
            var previous: String? = nil
            if victim == 1 {
                let bridge = try PluginChain(plugins: [chain.plugins[0]]).add(node, pod: pod, binaries: binaries)
                try #require(bridge.failed == nil, "\(String(describing: bridge.last))")
                previous = bridge.last?.stdout
            }
            // Every fourth round early enough that the ADD cannot have finished; the rest anywhere.
            let delay = UInt32.random(in: round % 4 == 0 ? 0...2_000 : 0...40_000)
            let outcome = try chain.addKilled(
                victim, prevResult: previous, node, pod: pod, binaries: binaries, delay: delay)
            kills.append("\(chain.plugins[victim].type) after \(delay) us: \(outcome.killed ? "killed" : "finished")")
            let failures = try chain.cleanUp(node, pod: pod, binaries: binaries)
            #expect(failures.isEmpty, "round \(round): \(failures)")
            let left = try NodeState(node).difference(from: baseline)
            #expect(left.isEmpty, "round \(round), \(kills.last ?? ""): \(left)")
            try pod.remove()
        }
        print("SIGKILL during ADD, release build:\n" + kills.joined(separator: "\n"))
        #expect(kills.contains { $0.hasSuffix("killed") }, "no round was killed: the test proved nothing")
    }
}
