import Foundation
import Testing
import TestSupport

/// What a buggy runtime or an attacker could send, for every plugin: each invocation ends in a
/// result or a CNI error (never a signal), writes nothing outside its state directories and
/// leaves the node as it was.
@Suite(
    "Hostile input to every plugin: a CNI error or success, no signal, nothing touched",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct HostileInputTests {
    static let plugins = TestEnvironment.pluginNames

    /// A plausible config of `plugin` in scratch state under `dir`.
    static func config(_ plugin: String, _ dir: String, name: String = "hostile") -> String {
        let ipam = #""ipam":{"type":"host-local","subnet":"10.57.0.0/24","dataDir":"\#(dir)/ipam"}"#
        let body: String
        switch plugin {
        case "bridge": body = #""bridge":"cnithst0","ipMasq":true,"# + ipam
        case "ptp", "macvlan", "ipvlan": body = #""master":"cnithstm0","# + ipam
        case "host-local", "static": body = ipam.replacingOccurrences(of: "host-local", with: plugin)
        case "dhcp": body = #""ipam":{"type":"dhcp","daemonSocketPath":"\#(dir)/dhcp.sock"}"#
        case "tuning": body = #""dataDir":"\#(dir)/tuning","mtu":1400"#
        case "bandwidth": body = #""ingressRate":80000,"ingressBurst":80000"#
        case "portmap": body = #""runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80}]}"#
        default: body = #""ingressPolicy":"open""#
        }
        return #"{"cniVersion":"1.0.0","name":"\#(name)","type":"\#(plugin)",\#(body)}"#
    }

    /// Fails the test unless the invocation ended in a result, nothing, or a CNI error object.
    static func expectWellFormed(
        _ result: CommandResult, _ what: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let error = (try? result.object()).flatMap { $0["code"] as? Int }
        #expect(
            result.status == 0 || (result.status == 1 && error != nil), "\(what): \(result)",
            sourceLocation: sourceLocation)
    }

    /// The node's links, the scratch dir's top level (but the plugins' own state directories)
    /// and any reservation, to compare before and after.
    func snapshot(_ node: Node, _ dir: String) throws -> [String] {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter {
            !["ipam", "tuning"].contains($0)
        }
        let reservations = ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/ipam/hostile")) ?? [])
            .filter { $0.first?.isNumber == true }
        return try node.links() + files.sorted().map { "file:" + $0 } + reservations.map { "ip:" + $0 }
    }

    func withNode(_ tag: String, _ body: (Node, String) throws -> Void) throws {
        let node = try Node(tag)
        defer { node.tearDown() }
        try Command.checked([
            "ip", "-n", node.ns.name, "link", "add", "cnithstm0", "type", "veth", "peer", "name", "cnithstm1",
        ])
        try body(node, node.dataDir)
    }

    @Test("Path traversal in the container ID, interface name and network name is refused", arguments: plugins)
    func traversal(plugin: String) throws {
        try withNode("hpt") { node, dir in
            let pod = try node.pod()
            let before = try snapshot(node, dir)
            let cases: [(id: String, ifname: String, name: String)] = [
                ("../../../../tmp/x", "eth0", "hostile"), ("ctr", "../../x", "hostile"),
                ("ctr", "eth0", "../../../tmp/x"),
                ("ctr", "eth0", "a/b"), ("ctr", "..", "hostile"), ("ctr\u{1}", "eth0", "hostile"),
                ("ctr", "et h0", "hostile"),
                ("ctr", "e:0", "hostile"), ("ctr", String(repeating: "e", count: 16), "hostile"),
                ("ctr", "tap%d", "hostile"),
            ]
            for item in cases {
                for command in ["ADD", "DEL", "CHECK"] {
                    let result = try node.run(
                        plugin, command, config: Self.config(plugin, dir, name: item.name), id: item.id, pod: pod,
                        ifname: item.ifname)
                    Self.expectWellFormed(result, "\(plugin) \(command) \(item)")
                    #expect(result.status == 1 || command == "DEL", "\(plugin) \(command) accepted \(item)")
                }
            }
            #expect(try snapshot(node, dir) == before)
            #expect(!FileManager.default.fileExists(atPath: "/tmp/x"))
        }
    }

    @Test(
        "Hostile CNI_NETNS values: files, devices, directories, the plugin's own netns, missing paths",
        arguments: plugins)
    func hostileNetns(plugin: String) throws {
        try withNode("hns") { node, dir in
            let before = try snapshot(node, dir)
            let values = [
                "/etc/passwd", "/dev/zero", "/", "/proc/self/ns/net", "/proc/1/ns/mnt", "/run/netns/cnit-none",
                "relative/path", String(repeating: "a", count: 5000), "/proc/self/fd/0",
            ]
            for netns in values {
                for command in ["ADD", "CHECK", "DEL"] {
                    let result = try node.run(
                        plugin, command, config: Self.config(plugin, dir), id: "ctrN", pod: nil, netns: netns)
                    Self.expectWellFormed(result, "\(plugin) \(command) netns \(netns.prefix(40))")
                }
            }
            // Reservations a failed ADD made are released again; everything else is as before.
            #expect(try snapshot(node, dir) == before)
        }
    }

    @Test("Huge, deep, truncated and binary input is a CNI error, never a signal", arguments: plugins)
    func malformedInput(plugin: String) throws {
        try withNode("hmi") { node, dir in
            let valid = Self.config(plugin, dir)
            let inputs = [
                String(repeating: "[", count: 200_000), String(valid.prefix(valid.count / 2)), "\u{0}\u{1}\u{2}\u{ff}",
                #"{"cniVersion":"1.0.0","name":"x","type":"\#(plugin)","prevResult":"#
                    + String(repeating: #"{"a":"#, count: 50_000),
                String(valid.dropLast()) + #","prevResult":{"ips":[{"address":"999.1.1.1/99","interface":-5}]}}"#,
                String(valid.dropLast()) + #","runtimeConfig":{"portMappings":"# + String(repeating: "[", count: 10_000)
                    + "}",
                #"{"cniVersion":"\#(String(repeating: "9", count: 1000))","name":"x","type":"\#(plugin)"}"#,
                "\u{FEFF}" + valid, valid + valid,
            ]
            for input in inputs {
                for command in ["ADD", "DEL", "CHECK", "GC", "STATUS"] {
                    Self.expectWellFormed(
                        try node.run(
                            plugin, command, config: input, id: "ctrM", pod: nil, netns: "/run/netns/cnit-none"),
                        "\(plugin) \(command) \(input.prefix(30))")
                }
            }
        }
    }

    @Test(
        "A FIFO or a device as CNI_NETNS is refused at once, never opened into a hang",
        arguments: ["bridge", "ptp", "loopback", "macvlan"])
    func fifoNetns(plugin: String) throws {
        try withNode("hff") { node, dir in
            let fifo = dir + "/fifo"
            #expect(mkfifo(fifo, 0o600) == 0)
            for (netns, command) in [(fifo, "ADD"), (fifo, "DEL"), ("/dev/null", "ADD"), ("/dev/tty", "DEL")] {
                var invocation = PluginInvocation(plugin: plugin, command: command)
                invocation.netns = netns
                let result = try Command.run(
                    ["timeout", "20", "ip", "netns", "exec", node.ns.name, TestEnvironment.plugin(plugin)],
                    environment: invocation.environment, stdin: Self.config(plugin, dir))
                #expect(result.status != 124, "\(plugin) \(command) with \(netns) hung")
                Self.expectWellFormed(result, "\(plugin) \(command) \(netns)")
            }
        }
    }

    @Test("A config over the 16 MiB limit is refused before parsing, with a clear error")
    func oversized() throws {
        let huge =
            #"{"cniVersion":"1.0.0","name":"big","type":"bridge","pad":""# + String(repeating: "x", count: 17 << 20)
            + "\"}"
        var invocation = PluginInvocation(plugin: "bridge", command: "ADD")
        invocation.netns = "/run/netns/cnit-none"
        let result = try invocation.run(stdin: huge)
        #expect(result.status == 1)
        #expect(try result.object()["code"] as? Int == 6)
        #expect((try result.object()["msg"] as? String)?.contains("limit") == true, "\(result.stdout.prefix(300))")
    }
}
