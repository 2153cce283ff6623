import Foundation
import Testing
import TestSupport

/// Each bridge config key, checked in the kernel after an ADD.
@Suite("bridge config keys", .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct BridgeKeyTests {
    func add(
        _ node: Node, _ pod: TestNamespace, keys: String, id: String = "ctr1", args: String = "", ipam: Bool = true,
        subnet: String = "10.70.0.0/24"
    ) throws -> CommandResult {
        let ipamSection =
            ipam ? #""ipam":{"type":"host-local","subnet":"\#(subnet)","dataDir":"\#(node.dataDir)"}"# : #""ipam":{}"#
        let conf = #"{"cniVersion":"1.0.0","name":"keynet","type":"bridge","bridge":"cnitbr5"\#(keys),\#(ipamSection)}"#
        var invocation = PluginInvocation(plugin: "bridge", command: "ADD")
        invocation.containerID = id
        invocation.netns = pod.path
        invocation.args = args
        return try invocation.run(stdin: conf, node: node.ns)
    }

    func bridgeLink(_ node: Node, _ name: String) throws -> [String: Any] {
        try node.ns.ipJSON(["-d", "link", "show", name]).first ?? [:]
    }

    @Test("mtu on bridge and both veth ends; isDefaultGateway adds the default route; promiscMode")
    func mtuGatewayPromisc() throws {
        let node = try Node("bk1")
        defer { node.tearDown() }
        let pod = try node.pod()
        let result = try add(node, pod, keys: #","mtu":1400,"isDefaultGateway":true,"promiscMode":true"#)
        #expect(result.status == 0, "\(result)")
        #expect(try bridgeLink(node, "cnitbr5")["mtu"] as? Int == 1400)
        #expect((try bridgeLink(node, "cnitbr5")["flags"] as? [String])?.contains("PROMISC") == true)
        #expect(try pod.ipJSON(["link", "show", "eth0"]).first?["mtu"] as? Int == 1400)
        let routes = try pod.ipJSON(["route", "show"])
        #expect(routes.contains { $0["dst"] as? String == "default" && $0["gateway"] as? String == "10.70.0.1" })
        #expect(
            (try result.object()["routes"] as? [[String: Any]])?.contains { $0["dst"] as? String == "0.0.0.0/0" }
                == true)
        #expect(
            try Command.checked(["ip", "netns", "exec", node.ns.name, "sysctl", "-n", "net.ipv4.ip_forward"]).hasPrefix(
                "1"))
    }

    @Test("The result has the bridge's MAC as it is after the port joined, which may change it")
    func bridgeMACAfterJoin() throws {
        let node = try Node("bk7")
        defer { node.tearDown() }
        // Not the gateway, so the bridge MAC is not pinned: it follows the lowest port MAC.
        for i in 0..<4 {
            let result = try add(node, try node.pod(), keys: "", id: "join\(i)")
            #expect(result.status == 0, "\(result)")
            let kernel = try bridgeLink(node, "cnitbr5")["address"] as? String
            #expect(kernel != nil)
            #expect((try result.object()["interfaces"] as? [[String: Any]])?[0]["mac"] as? String == kernel)
        }
    }

    @Test("MAC from runtimeConfig beats args.cni.mac beats CNI_ARGS MAC")
    func macSources() throws {
        let node = try Node("bk2")
        defer { node.tearDown() }
        let cases: [(String, String, String)] = [
            (
                #","runtimeConfig":{"mac":"02:00:00:00:00:a1"},"args":{"cni":{"mac":"02:00:00:00:00:a2"}}"#,
                "IgnoreUnknown=1;MAC=02:00:00:00:00:a3", "02:00:00:00:00:a1"
            ),
            (
                #","args":{"cni":{"mac":"02:00:00:00:00:a2"}}"#, "IgnoreUnknown=1;MAC=02:00:00:00:00:a3",
                "02:00:00:00:00:a2"
            ),
            ("", "IgnoreUnknown=1;MAC=02:00:00:00:00:a3", "02:00:00:00:00:a3"),
        ]
        for (i, (keys, args, expected)) in cases.enumerated() {
            let pod = try node.pod()
            let result = try add(node, pod, keys: keys, id: "mac\(i)", args: args)
            #expect(result.status == 0, "\(result)")
            #expect(try pod.ipJSON(["link", "show", "eth0"]).first?["address"] as? String == expected)
            #expect((try result.object()["interfaces"] as? [[String: Any]])?[2]["mac"] as? String == expected)
        }
        let bad = try add(node, try node.pod(), keys: #","runtimeConfig":{"mac":"zz"}"#, id: "badmac")
        #expect(try bad.object()["code"] as? Int == 7)
    }

    @Test("hairpinMode and portIsolation on the host port")
    func portFlags() throws {
        let node = try Node("bk3")
        defer { node.tearDown() }
        let pod = try node.pod()
        let result = try add(node, pod, keys: #","hairpinMode":true,"portIsolation":true"#)
        #expect(result.status == 0, "\(result)")
        let hostVeth = (try result.object()["interfaces"] as? [[String: Any]])?[1]["name"] as? String ?? ""
        let port = try Command.checked([
            "ip", "netns", "exec", node.ns.name, "bridge", "-j", "-d", "link", "show", "dev", hostVeth,
        ])
        #expect(port.contains("\"hairpin\":true"))
        #expect(port.contains("\"isolated\":true"))
    }

    @Test("forceAddress replaces a conflicting IPv4 address on the bridge; without it ADD fails and leaves nothing")
    func forceAddress() throws {
        let node = try Node("bk4")
        defer { node.tearDown() }
        try Command.checked(["ip", "-n", node.ns.name, "link", "add", "cnitbr5", "type", "bridge"])
        try Command.checked(["ip", "-n", node.ns.name, "addr", "add", "10.9.9.1/24", "dev", "cnitbr5"])
        let pod = try node.pod()
        let refused = try add(node, pod, keys: #","isGateway":true"#)
        #expect(refused.status == 1)
        #expect(
            (try refused.object()["msg"] as? String)?.contains("already has an IP address different from 10.70.0.1/24")
                == true)
        #expect(try pod.ipJSON(["link", "show"]).count == 1)
        #expect(node.reservations("keynet").isEmpty)
        let forced = try add(node, pod, keys: #","isGateway":true,"forceAddress":true"#)
        #expect(forced.status == 0, "\(forced)")
        let addresses =
            try node.ns.ipJSON(["-4", "addr", "show", "cnitbr5"]).first?["addr_info"] as? [[String: Any]] ?? []
        #expect(addresses.map { $0["local"] as? String } == ["10.70.0.1"])
    }

    @Test("disableContainerInterface leaves the container end down (L2 only); enabledad turns DAD on")
    func interfaceFlags() throws {
        let node = try Node("bk5")
        defer { node.tearDown() }
        let down = try node.pod()
        #expect(try add(node, down, keys: #","disableContainerInterface":true"#, ipam: false).status == 0)
        #expect(try !(down.ipJSON(["link", "show", "eth0"]).first?["flags"] as? [String] ?? []).contains("UP"))
        let rejected = try add(node, try node.pod(), keys: #","disableContainerInterface":true"#, id: "c2")
        #expect(try rejected.object()["code"] as? Int == 7, "IPAM and disableContainerInterface together")
        let dad = try node.pod()
        #expect(try add(node, dad, keys: #","enabledad":true"#, id: "c3").status == 0)
        #expect(try dad.run(["sysctl", "-n", "net.ipv6.conf.eth0.accept_dad"]).stdout.hasPrefix("1"))
        let noDAD = try node.pod()
        #expect(try add(node, noDAD, keys: "", id: "c4").status == 0)
        #expect(try noDAD.run(["sysctl", "-n", "net.ipv6.conf.eth0.accept_dad"]).stdout.hasPrefix("0"))
    }

    @Test("An IPv6 pod's settings (DAD off, IPv6 on, addresses kept on down) are written in its namespace")
    func ipv6Settings() throws {
        let node = try Node("bk6")
        defer { node.tearDown() }
        let pod = try node.pod()
        let result = try add(node, pod, keys: #","isGateway":true"#, subnet: "fd70::/64")
        #expect(result.status == 0, "\(result)")
        for (key, value) in [("accept_dad", "0"), ("disable_ipv6", "0"), ("keep_addr_on_down", "1")] {
            #expect(try pod.run(["sysctl", "-n", "net.ipv6.conf.eth0.\(key)"]).stdout.hasPrefix(value), "\(key)")
        }
        #expect(try node.ns.run(["sysctl", "-n", "net.ipv6.conf.all.keep_addr_on_down"]).stdout.hasPrefix("0"))
        // The host's side, written in the node's namespace (the plugin's own) and not elsewhere.
        let interfaces = try result.object()["interfaces"] as? [[String: Any]] ?? []
        let hostSide = interfaces.filter { $0["sandbox"] == nil }.compactMap { $0["name"] as? String }
        #expect(hostSide.count == 2, "\(interfaces)")
        for name in hostSide {
            #expect(
                try node.ns.run(["sysctl", "-n", "net.ipv6.conf.\(name).accept_ra"]).stdout.hasPrefix("0"), "\(name)")
        }
    }
}
