import Foundation
import Testing
import TestSupport

/// A per-test node (where the plugins run, as a runtime on that node would) with a scratch
/// IPAM dataDir, and helpers to attach pods.
final class Node: @unchecked Sendable {
    // @unchecked: pods are created before any concurrent use; concurrent callers only read.
    let ns: TestNamespace
    let dataDir: String
    private var pods: [TestNamespace] = []

    init(_ tag: String) throws {
        ns = try TestNamespace(tag)
        dataDir = try TestEnvironment.scratchDirectory(tag)
    }

    func pod(_ tag: String = "pod") throws -> TestNamespace {
        let pod = try TestNamespace(tag)
        pods.append(pod)
        return pod
    }

    /// Runs `plugin` in the node as a runtime would, from `bin` (the binaries under test unless
    /// given), with `environment` added.
    func run(
        _ plugin: String, _ command: String, config: String, id: String, pod: TestNamespace?, ifname: String = "eth0",
        netns: String? = nil, bin: String = TestEnvironment.pluginDirectory, environment: [String: String] = [:]
    ) throws -> CommandResult {
        var invocation = PluginInvocation(plugin: plugin, command: command)
        invocation.containerID = id
        invocation.ifname = ifname
        invocation.netns = netns ?? pod?.path ?? ""
        invocation.path = bin
        invocation.extra = environment
        if command == "GC" || command == "STATUS" {
            invocation.containerID = ""; invocation.ifname = ""; invocation.netns = ""
        }
        return try invocation.run(stdin: config, node: ns, binary: bin + "/" + plugin)
    }

    /// Every link on the node but lo.
    func links() throws -> [String] {
        try ns.ipJSON(["link", "show"]).compactMap { $0["ifname"] as? String }.filter { $0 != "lo" }
    }

    func reservations(_ network: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dataDir + "/" + network)) ?? []).filter {
            $0.first?.isNumber == true || $0.contains(":")
        }
    }

    func nftRuleset() throws -> String {
        try Command.checked(["ip", "netns", "exec", ns.name, "nft", "list", "ruleset"])
    }

    /// Removes the pods, the node and the scratch dir, and records a test issue for anything
    /// that could not be removed (test.sh also fails the run on leftover namespaces).
    func tearDown() {
        var problems: [String] = []
        for pod in pods {
            do { try pod.remove() } catch { problems.append("\(error)") }
        }
        do { try ns.remove() } catch { problems.append("\(error)") }
        if FileManager.default.fileExists(atPath: dataDir) {
            do { try FileManager.default.removeItem(atPath: dataDir) } catch { problems.append("\(dataDir): \(error)") }
        }
        if !problems.isEmpty { Issue.record("node teardown left: \(problems)") }
    }
}

/// Polls `condition` for up to `seconds`.
func eventually(_ seconds: Double = 3, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(50_000)
    }
    return try condition()
}

func ping(_ from: TestNamespace, _ address: String) throws -> Bool {
    try from.run(["ping", "-c", "1", "-W", "2", address]).status == 0
}

@Suite(
    "bridge in real namespaces: connectivity, results, CHECK, DEL, rollback, GC, STATUS",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct BridgeTests {
    func config(_ node: Node, version: String = "1.0.0", extra: String = "", ipam: String? = nil) -> String {
        let ipamSection =
            ipam
            ?? #"{"type":"host-local","subnet":"10.77.0.0/24","dataDir":"\#(node.dataDir)","routes":[{"dst":"0.0.0.0/0"}]}"#
        return
            #"{"cniVersion":"\#(version)","name":"brnet","type":"bridge","bridge":"cnitbr0","isGateway":true\#(extra),"ipam":\#(ipamSection)}"#
    }

    @Test("Two pods ping each other and the gateway, the node pings a pod; DEL removes everything")
    func connectivity() throws {
        let node = try Node("brn")
        defer { node.tearDown() }
        let a = try node.pod(), b = try node.pod()
        let conf = config(node, extra: #","ipMasq":true"#)
        let added = try [a, b].enumerated().map { i, pod in
            try node.run("bridge", "ADD", config: conf, id: "ctr\(i)", pod: pod)
        }
        for result in added { #expect(result.status == 0, "\(result)") }
        let addrA =
            try ((added[0].object()["ips"] as? [[String: Any]])?.first?["address"] as? String)?.split(separator: "/")
            .first.map(String.init) ?? ""
        let addrB =
            try ((added[1].object()["ips"] as? [[String: Any]])?.first?["address"] as? String)?.split(separator: "/")
            .first.map(String.init) ?? ""
        #expect(try ping(a, addrB))
        #expect(try ping(b, addrA))
        #expect(try ping(a, "10.77.0.1"))
        #expect(try ping(node.ns, addrA))
        let rules = try node.nftRuleset()
        #expect(rules.contains("ip daddr != 10.77.0.0/24 masquerade"), "\(rules)")
        #expect(rules.contains("\(addrA) comment \"") && rules.contains(": goto masq_"), "the pod's element")

        for (i, pod) in [a, b].enumerated() {
            for _ in 0..<2 {
                let deleted = try node.run("bridge", "DEL", config: conf, id: "ctr\(i)", pod: pod)
                #expect(deleted.status == 0, "\(deleted)")
                #expect(deleted.stdout.isEmpty)
            }
            #expect(try pod.ipJSON(["link", "show"]).count == 1, "only lo left in the pod")
        }
        #expect(try node.links() == ["cnitbr0"], "the bridge stays, as in the reference; every veth is gone")
        #expect(node.reservations("brnet").isEmpty)
        #expect(try !node.nftRuleset().contains("masquerade comment"))
    }

    @Test("Dual-stack: both families on the container, gateways on the bridge, IPv6 reachable")
    func dualStack() throws {
        let node = try Node("brd")
        defer { node.tearDown() }
        let a = try node.pod(), b = try node.pod()
        let ipam =
            #"{"type":"host-local","ranges":[[{"subnet":"10.78.0.0/24"}],[{"subnet":"fd00:78::/64"}]],"dataDir":"\#(node.dataDir)"}"#
        let conf = config(node, ipam: ipam)
        for (i, pod) in [a, b].enumerated() {
            let result = try node.run("bridge", "ADD", config: conf, id: "ctr\(i)", pod: pod)
            #expect(result.status == 0, "\(result)")
            let ips = try result.object()["ips"] as? [[String: Any]] ?? []
            #expect(ips.count == 2)
            #expect(ips.allSatisfy { $0["interface"] as? Int == 2 })
        }
        let bridgeAddrs = try node.ns.ipJSON(["addr", "show", "cnitbr0"]).first?["addr_info"] as? [[String: Any]] ?? []
        #expect(bridgeAddrs.contains { $0["local"] as? String == "10.78.0.1" })
        #expect(bridgeAddrs.contains { $0["local"] as? String == "fd00:78::1" })
        #expect(try a.run(["ping", "-6", "-c", "1", "-W", "3", "fd00:78::3"]).status == 0)
        #expect(try ping(a, "10.78.0.3"))
    }

    @Test(
        "Results in every cniVersion; CHECK passes, then fails after the container address is removed",
        arguments: ["0.3.1", "0.4.0", "1.0.0", "1.1.0"])
    func versionsAndCheck(version: String) throws {
        let node = try Node("brv")
        defer { node.tearDown() }
        let pod = try node.pod()
        let conf = config(node, version: version)
        let added = try node.run("bridge", "ADD", config: conf, id: "ctr1", pod: pod)
        #expect(added.status == 0, "\(added)")
        let result = try added.object()
        #expect(result["cniVersion"] as? String == version)
        let interfaces = result["interfaces"] as? [[String: Any]] ?? []
        #expect(interfaces.map { $0["name"] as? String }.first == "cnitbr0")
        #expect((interfaces[1]["name"] as? String)?.hasPrefix("veth") == true && interfaces[1]["sandbox"] == nil)
        #expect(interfaces[2]["name"] as? String == "eth0" && interfaces[2]["sandbox"] as? String == pod.path)
        let ips = result["ips"] as? [[String: Any]] ?? []
        #expect(ips.first?["interface"] as? Int == 2)
        #expect((ips.first?["version"] != nil) == version.hasPrefix("0."))
        guard version != "0.3.1" else { return }
        let withPrev = conf.dropLast() + #","prevResult":\#(added.stdout)}"#
        let checked = try node.run("bridge", "CHECK", config: String(withPrev), id: "ctr1", pod: pod)
        #expect(checked.status == 0, "\(checked)")
        #expect(checked.stdout.isEmpty)
        try Command.checked(["ip", "-n", pod.name, "addr", "flush", "dev", "eth0"])
        let drifted = try node.run("bridge", "CHECK", config: String(withPrev), id: "ctr1", pod: pod)
        #expect(drifted.status == 1)
    }

    @Test("DEL works with the netns gone, with no netns, and without prevResult; masquerade rules go too")
    func delWithoutNetns() throws {
        let node = try Node("brx")
        defer { node.tearDown() }
        let pod = try node.pod()
        let conf = config(node, extra: #","ipMasq":true"#)
        #expect(try node.run("bridge", "ADD", config: conf, id: "ctr1", pod: pod).status == 0)
        try pod.remove()
        let gone = try node.run("bridge", "DEL", config: conf, id: "ctr1", pod: nil, netns: pod.path)
        #expect(gone.status == 0, "\(gone)")
        #expect(try !node.nftRuleset().contains("masquerade comment"), "rules removed although the netns is gone")
        #expect(node.reservations("brnet").isEmpty)
        // The kernel destroys the veth pair with the netns, asynchronously.
        #expect(try eventually { try node.links() == ["cnitbr0"] })
        #expect(try node.run("bridge", "DEL", config: conf, id: "ctr1", pod: nil, netns: "").status == 0)
        #expect(try node.run("bridge", "DEL", config: conf, id: "never-added", pod: nil).status == 0)
    }

    @Test("L2 mode without IPAM: link up, no addresses, CHECK works")
    func layer2() throws {
        let node = try Node("brl")
        defer { node.tearDown() }
        let pod = try node.pod()
        let conf = #"{"cniVersion":"1.0.0","name":"l2net","type":"bridge","bridge":"cnitbr1","ipam":{}}"#
        let added = try node.run("bridge", "ADD", config: conf, id: "ctr1", pod: pod)
        #expect(added.status == 0, "\(added)")
        #expect(try added.object()["ips"] == nil)
        let link = try pod.ipJSON(["link", "show", "eth0"]).first
        #expect((link?["flags"] as? [String])?.contains("UP") == true)
        let withPrev = String(conf.dropLast()) + #","prevResult":\#(added.stdout)}"#
        let checked = try node.run("bridge", "CHECK", config: withPrev, id: "ctr1", pod: pod)
        #expect(checked.status == 0, "the reference fails here: \(checked)")
        #expect(try node.run("bridge", "DEL", config: conf, id: "ctr1", pod: pod).status == 0)
    }
}

@Suite("bridge macspoofchk", .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct MacSpoofCheckTests {
    @Test("Frames with another source MAC are dropped; DEL removes the bridge-family rule and chains")
    func spoofing() throws {
        let node = try Node("brs")
        defer { node.tearDown() }
        let pod = try node.pod()
        let conf =
            #"{"cniVersion":"1.0.0","name":"spoofnet","type":"bridge","bridge":"cnitbr2","isGateway":true,"macspoofchk":true,"ipam":{"type":"host-local","subnet":"10.75.0.0/24","dataDir":"\#(node.dataDir)"}}"#
        let added = try node.run("bridge", "ADD", config: conf, id: "ctr1", pod: pod)
        #expect(added.status == 0, "\(added)")
        let rules = try node.nftRuleset()
        #expect(rules.contains("table bridge nat"))
        #expect(rules.contains("chain cni-br-iface-ctr1-eth0-mac"))
        #expect(rules.contains("comment \"macspoofchk-ctr1-eth0\""))
        #expect(try ping(pod, "10.75.0.1"))
        try Command.checked(["ip", "-n", pod.name, "link", "set", "eth0", "address", "02:00:00:00:be:ef"])
        try Command.checked(["ip", "-n", pod.name, "neigh", "flush", "all"])
        #expect(try !ping(pod, "10.75.0.1"), "a spoofed source MAC is dropped")
        #expect(try node.run("bridge", "DEL", config: conf, id: "ctr1", pod: pod).status == 0)
        let after = try node.nftRuleset()
        #expect(!after.contains("cni-br-iface-ctr1-eth0"))
        #expect(!after.contains("macspoofchk-ctr1-eth0"))
        #expect(try node.run("bridge", "DEL", config: conf, id: "ctr1", pod: pod).status == 0)
    }

    @Test("GC removes the checks of pods whose veth vanished without a DEL, and keeps live ones")
    func collect() throws {
        let node = try Node("brg")
        defer { node.tearDown() }
        let (live, dead) = (try node.pod("live"), try node.pod("dead"))
        let conf =
            #"{"cniVersion":"1.1.0","name":"spoofnet","type":"bridge","bridge":"cnitbr3","macspoofchk":true,"ipam":{"type":"host-local","subnet":"10.76.0.0/24","dataDir":"\#(node.dataDir)"}}"#
        #expect(try node.run("bridge", "ADD", config: conf, id: "live", pod: live).status == 0)
        #expect(try node.run("bridge", "ADD", config: conf, id: "dead", pod: dead).status == 0)
        try dead.remove()  // the pod's end of the veth goes, and with it (asynchronously) the host end
        #expect(try eventually(5) { try node.links().filter { $0.hasPrefix("veth") }.count == 1 })
        let gc =
            String(conf.dropLast())
            + #","cni.dev/valid-attachments":[{"containerID":"live","ifname":"eth0"},{"containerID":"dead","ifname":"eth0"}]}"#
        let collected = try node.run("bridge", "GC", config: gc, id: "", pod: nil)
        #expect(collected.status == 0, "\(collected)")
        let rules = try node.nftRuleset()
        #expect(!rules.contains("macspoofchk-dead-eth0") && !rules.contains("cni-br-iface-dead-eth0"), "\(rules)")
        #expect(rules.contains("macspoofchk-live-eth0") && rules.contains("chain cni-br-iface-live-eth0-mac"))
        #expect(try node.run("bridge", "DEL", config: conf, id: "live", pod: live).status == 0)
    }
}
