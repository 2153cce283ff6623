import Foundation
import Testing
import TestSupport

/// Every numeric key of every plugin with the values that break fixed-width conversions. A
/// plugin may accept or refuse each, but always as a result or a CNI error, never a signal.
@Suite(
    "Numeric extremes in every numeric key: a result or a CNI error, never a signal",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct NumericExtremesTests {
    static let values = [
        "0", "-1", "1.5", "2147483647", "2147483648", "4294967295", "4294967296",
        "9007199254740992", "1e308", "-1e308",
    ]

    /// (plugin to exec, config with `@` where the value goes, whether it is chained after the
    /// base attachment). IPAM keys are reached through the main plugin that delegates to it.
    static func templates(_ dataDir: String) -> [(String, String, Bool)] {
        let ipam = #""ipam":{"type":"host-local","subnet":"10.62.0.0/24","dataDir":"\#(dataDir)"}"#
        let routed =
            #""ipam":{"type":"host-local","subnet":"10.61.0.0/24","dataDir":"\#(dataDir)","routes":[{"dst":"0.0.0.0/0","priority":@}]}"#
        func conf(_ type: String, _ body: String) -> String {
            #"{"cniVersion":"1.0.0","name":"num","type":"\#(type)",\#(body)}"#
        }
        let bridge = #""bridge":"cnitnum0","#
        return [
            ("bridge", conf("bridge", bridge + #""mtu":@,"# + ipam), false),
            ("bridge", conf("bridge", bridge + #""vlan":@,"# + ipam), false),
            ("bridge", conf("bridge", bridge + #""vlanTrunk":[{"id":@}],"# + ipam), false),
            ("bridge", conf("bridge", bridge + #""vlanTrunk":[{"minID":1,"maxID":@}],"# + ipam), false),
            ("bridge", conf("bridge", bridge + routed), false),
            ("ptp", conf("ptp", #""mtu":@,"# + ipam.replacingOccurrences(of: "10.62.", with: "10.60.")), false),
            ("macvlan", conf("macvlan", #""master":"cnitnumm0","mtu":@,"# + ipam), false),
            ("macvlan", conf("macvlan", #""master":"cnitnumm0","bcqueuelen":@,"# + ipam), false),
            ("ipvlan", conf("ipvlan", #""master":"cnitnumm0","mtu":@,"# + ipam), false),
            ("tuning", conf("tuning", #""dataDir":"\#(dataDir)/tuning","mtu":@"#), true),
            ("tuning", conf("tuning", #""dataDir":"\#(dataDir)/tuning","txQLen":@"#), true),
            ("bandwidth", conf("bandwidth", #""ingressRate":@,"ingressBurst":80000"#), true),
            ("bandwidth", conf("bandwidth", #""egressRate":80000,"egressBurst":@"#), true),
            (
                "bandwidth", conf("bandwidth", #""runtimeConfig":{"bandwidth":{"IngressRate":@,"IngressBurst":@}}"#),
                true
            ),
            (
                "portmap",
                conf(
                    "portmap", #""runtimeConfig":{"portMappings":[{"hostPort":@,"containerPort":80,"protocol":"tcp"}]}"#
                ), true
            ),
            (
                "portmap",
                conf(
                    "portmap",
                    #""runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":@,"protocol":"udp"}]}"#), true
            ),
            (
                "portmap",
                conf(
                    "portmap",
                    #""markMasqBit":@,"runtimeConfig":{"portMappings":[{"hostPort":8081,"containerPort":81}]}"#), true
            ),
            ("firewall", conf("firewall", #""ingressPolicy":"open""#), true),
            ("sbr", conf("sbr", #""table":@"#), true),
            ("tap", conf("tap", #""mtu":@,"# + ipam), false),
            ("tap", conf("tap", #""owner":@,"group":@,"# + ipam), false),
            ("vlan", conf("vlan", #""master":"cnitnumm0","vlanId":@,"# + ipam), false),
            ("vlan", conf("vlan", #""master":"cnitnumm0","vlanId":1,"mtu":@,"# + ipam), false),
            (
                "macvlan",
                conf(
                    "macvlan",
                    #""master":"cnitnumm0","ipam":{"type":"dhcp","daemonSocketPath":"\#(dataDir)/none.sock","priority":@}"#
                ), false
            ),
            (
                "bridge",
                conf(
                    "bridge",
                    bridge
                        + #""ipam":{"type":"static","addresses":[{"address":"10.59.0.5/24"}],"routes":[{"dst":"0.0.0.0/0","priority":@}]}"#
                ), false
            ),
        ]
    }

    @Test("Each numeric key with 0, -1, 1.5, 2^31-1, 2^31, 2^32-1, 2^32, 2^53, 1e308 and -1e308")
    func sweep() throws {
        let node = try Node("num")
        defer { node.tearDown() }
        let pod = try node.pod()
        try Command.checked([
            "ip", "-n", node.ns.name, "link", "add", "cnitnumm0", "type", "veth", "peer", "name", "cnitnumm1",
        ])
        let base =
            #"{"cniVersion":"1.0.0","name":"num","type":"bridge","bridge":"cnitnumb","ipam":{"type":"host-local","subnet":"10.58.0.0/24","dataDir":"\#(node.dataDir)"}}"#
        let attached = try node.run("bridge", "ADD", config: base, id: "base", pod: pod)
        #expect(attached.status == 0, "\(attached)")
        // prevResult with an out-of-range interface index too, for the result decoder.
        let prev = attached.stdout.replacingOccurrences(of: #""interface":2"#, with: #""interface":@"#)
        var outcomes: [String: Int] = [:]
        for (plugin, template, chained) in Self.templates(node.dataDir) {
            for value in Self.values {
                var conf = template.replacingOccurrences(of: "@", with: value)
                if chained {
                    conf =
                        String(conf.dropLast()) + #","prevResult":\#(prev.replacingOccurrences(of: "@", with: value))}"#
                }
                let id = chained ? "base" : "n\(outcomes.count)"
                let ifname = chained ? "eth0" : "num1"
                for command in ["ADD", "DEL"] {
                    let result = try node.run(plugin, command, config: conf, id: id, pod: pod, ifname: ifname)
                    let wellFormed = result.status == 0 || (result.status == 1 && (try? result.object()["code"]) != nil)
                    #expect(wellFormed, "\(plugin) \(command) with \(value) in \(template): \(result)")
                    outcomes["\(result.status)", default: 0] += 1
                }
            }
        }
        #expect(outcomes.keys.allSatisfy { $0 == "0" || $0 == "1" }, "\(outcomes)")
        #expect(try node.run("bridge", "DEL", config: base, id: "base", pod: pod).status == 0)
        #expect(try node.reservations("num").isEmpty, "every accepted ADD was deleted")
    }
}
