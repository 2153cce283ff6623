import Foundation
import Testing
import TestSupport

@Suite(
    "tuning after bridge: sysctls, link attributes, backup and restore",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct TuningTests {
    static let reference = TestEnvironment.referenceDirectory + "/tuning"

    /// A pod attached by our bridge; returns its ADD result JSON.
    func attach(_ node: Node, _ pod: TestNamespace) throws -> String {
        let conf =
            #"{"cniVersion":"1.0.0","name":"tunenet","type":"bridge","bridge":"cnitbr6","ipam":{"type":"host-local","subnet":"10.69.0.0/24","dataDir":"\#(node.dataDir)"}}"#
        let added = try node.run("bridge", "ADD", config: conf, id: "ctr1", pod: pod)
        guard added.status == 0 else { throw TestFailure("bridge ADD: \(added)") }
        return added.stdout
    }

    func tuning(_ keys: String, prev: String, dataDir: String) -> String {
        #"{"cniVersion":"1.0.0","name":"tunenet","type":"tuning","dataDir":"\#(dataDir)"\#(keys),"prevResult":\#(prev)}"#
    }

    func link(_ pod: TestNamespace) throws -> [String: Any] {
        try pod.ipJSON(["-d", "link", "show", "eth0"]).first ?? [:]
    }

    @Test("ADD applies, CHECK passes, DEL restores every attribute and removes the backup")
    func lifecycle() throws {
        let node = try Node("tun")
        defer { node.tearDown() }
        let pod = try node.pod()
        let prev = try attach(node, pod)
        let before = try link(pod)
        let keys =
            #","sysctl":{"net.ipv4.conf.IFNAME.arp_filter":"1","net.ipv4.ip_forward":"1"},"mac":"02:00:00:00:aa:01","mtu":1300,"promisc":true,"allmulti":true,"txQLen":77"#
        let conf = tuning(keys, prev: prev, dataDir: node.dataDir + "/tuning")
        let added = try node.run("tuning", "ADD", config: conf, id: "ctr1", pod: pod)
        #expect(added.status == 0, "\(added)")
        let interfaces = try added.object()["interfaces"] as? [[String: Any]] ?? []
        #expect(interfaces.first { $0["name"] as? String == "eth0" }?["mac"] as? String == "02:00:00:00:aa:01")
        let after = try link(pod)
        #expect(after["address"] as? String == "02:00:00:00:aa:01")
        #expect(after["mtu"] as? Int == 1300)
        #expect(after["txqlen"] as? Int == 77)
        #expect((after["flags"] as? [String])?.contains("PROMISC") == true)
        #expect((after["flags"] as? [String])?.contains("ALLMULTI") == true)
        #expect(try pod.run(["sysctl", "-n", "net.ipv4.conf.eth0.arp_filter"]).stdout.hasPrefix("1"))
        let backup = node.dataDir + "/tuning/ctr1_eth0.json"
        #expect(FileManager.default.fileExists(atPath: backup))

        let checkConf = tuning(keys, prev: added.stdout, dataDir: node.dataDir + "/tuning")
        let checked = try node.run("tuning", "CHECK", config: checkConf, id: "ctr1", pod: pod)
        #expect(checked.status == 0, "\(checked)")
        try Command.checked(["ip", "-n", pod.name, "link", "set", "eth0", "mtu", "1400"])
        #expect(try node.run("tuning", "CHECK", config: checkConf, id: "ctr1", pod: pod).status == 1)

        #expect(try node.run("tuning", "DEL", config: checkConf, id: "ctr1", pod: pod).status == 0)
        let restored = try link(pod)
        #expect(restored["address"] as? String == before["address"] as? String)
        #expect(restored["mtu"] as? Int == before["mtu"] as? Int)
        #expect(restored["txqlen"] as? Int == before["txqlen"] as? Int)
        #expect((restored["flags"] as? [String])?.contains("PROMISC") == false)
        #expect(!FileManager.default.fileExists(atPath: backup))
        #expect(try node.run("tuning", "DEL", config: checkConf, id: "ctr1", pod: pod).status == 0, "DEL twice")
        #expect(
            try node.run("tuning", "DEL", config: checkConf, id: "ctr1", pod: nil, netns: "/run/netns/cnit-gone").status
                == 0)
    }

    @Test(
        "The backup file is the reference's, byte for byte, and each implementation restores the other's",
        .enabled(if: FileManager.default.fileExists(atPath: reference), "needs the Go reference tuning plugin"))
    func referenceBackup() throws {
        let node = try Node("tur")
        defer { node.tearDown() }
        let ours = try node.pod(), theirs = try node.pod()
        let keys = #","mac":"02:00:00:00:aa:02","mtu":1280,"promisc":true,"allmulti":false"#
        for (pod, dir, binary) in [(ours, "/ours", nil), (theirs, "/theirs", Self.reference)]
            as [(TestNamespace, String, String?)]
        {
            let prev = try attach(node, pod)
            var invocation = PluginInvocation(plugin: "tuning", command: "ADD")
            invocation.containerID = "ctr1"
            invocation.netns = pod.path
            let result = try invocation.run(
                stdin: tuning(keys, prev: prev, dataDir: node.dataDir + dir), node: node.ns, binary: binary)
            #expect(result.status == 0, "\(result)")
            // Let the second pod reuse ctr1's address.
            try FileManager.default.removeItem(atPath: node.dataDir + "/tunenet")
        }
        let ourBackup = try String(contentsOfFile: node.dataDir + "/ours/ctr1_eth0.json", encoding: .utf8)
        let theirBackup = try String(contentsOfFile: node.dataDir + "/theirs/ctr1_eth0.json", encoding: .utf8)
        // The MACs differ per veth; everything else, layout included, must be identical.
        let mask = { (s: String) in
            s.replacingOccurrences(of: #""mac": "[0-9a-f:]+""#, with: "MAC", options: .regularExpression)
        }
        #expect(mask(ourBackup) == mask(theirBackup), "\(ourBackup)\n\(theirBackup)")
        // Cross restore: the reference undoes ours, ours undoes the reference's.
        for (pod, dir, binary) in [(ours, "/ours", Self.reference), (theirs, "/theirs", nil)]
            as [(TestNamespace, String, String?)]
        {
            var invocation = PluginInvocation(plugin: "tuning", command: "DEL")
            invocation.containerID = "ctr1"
            invocation.netns = pod.path
            let result = try invocation.run(
                stdin: tuning(keys, prev: "{}", dataDir: node.dataDir + dir), node: node.ns, binary: binary)
            #expect(result.status == 0, "\(result)")
            #expect(try link(pod)["mtu"] as? Int == 1500)
            #expect(!FileManager.default.fileExists(atPath: node.dataDir + dir + "/ctr1_eth0.json"))
        }
    }

    @Test(
        "Bad sysctl keys and a failing step roll back what was already written",
        arguments: [
            #","sysctl":{"kernel.hostname":"x"}"#,
            #","sysctl":{"net.ipv4.conf.IFNAME.arp_filter":"1","net.ipv4.no.such.key":"1"}"#,
        ])
    func rollback(keys: String) throws {
        let node = try Node("tub")
        defer { node.tearDown() }
        let pod = try node.pod()
        let prev = try attach(node, pod)
        let result = try node.run(
            "tuning", "ADD", config: tuning(keys, prev: prev, dataDir: node.dataDir + "/t"), id: "ctr1", pod: pod)
        #expect(result.status == 1)
        #expect(try pod.run(["sysctl", "-n", "net.ipv4.conf.eth0.arp_filter"]).stdout.hasPrefix("0"), "restored")
    }

    @Test("A key with an empty component stays under /proc/sys: a host file is never read or written")
    func keyEscape() throws {
        let node = try Node("tue")
        defer { node.tearDown() }
        let pod = try node.pod()
        let prev = try attach(node, pod)
        let victim = node.dataDir + "/victim"
        try FileManager.default.createDirectory(atPath: node.dataDir, withIntermediateDirectories: true)
        try "original".write(toFile: victim, atomically: true, encoding: .utf8)
        for key in ["net/ipv4/\(victim)", "net/ipv6/\(victim)"] {
            let keys = #","sysctl":{"\#(key)":"PWNED"}"#
            let conf = tuning(keys, prev: prev, dataDir: node.dataDir + "/t")
            for command in ["ADD", "CHECK"] {
                #expect(try node.run("tuning", command, config: conf, id: "ctr1", pod: pod).status == 1, "\(command)")
            }
        }
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "original")
        let doubled = tuning(
            #","sysctl":{"net/ipv4//conf/eth0/arp_filter":"1"}"#, prev: prev, dataDir: node.dataDir + "/t")
        #expect(try node.run("tuning", "ADD", config: doubled, id: "ctr1", pod: pod).status == 0, "as the path would")
        #expect(try pod.run(["sysctl", "-n", "net.ipv4.conf.eth0.arp_filter"]).stdout.hasPrefix("1"))
    }

    @Test("A read-only /proc/sys stops the writes, as the reference's: no procfs of its own gets around it")
    func readOnlyProcSys() throws {
        let node = try Node("tur")
        defer { node.tearDown() }
        let pod = try node.pod()
        let prev = try attach(node, pod)
        let before = try pod.run(["sysctl", "-n", "net.core.somaxconn"]).stdout
        var invocation = PluginInvocation(plugin: "tuning", command: "ADD")
        invocation.containerID = "ctr1"
        invocation.netns = pod.path
        let conf = tuning(#","sysctl":{"net.core.somaxconn":"555"}"#, prev: prev, dataDir: node.dataDir + "/t")
        // As a container runtime or systemd's ProtectKernelTunables= leave it, in a mount
        // namespace of the plugin's own.
        let readOnly = "mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec \"$0\""
        let result = try node.ns.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", readOnly, TestEnvironment.plugin("tuning")],
            environment: invocation.environment, stdin: conf)
        #expect(result.status == 1, "\(result)")
        #expect((try result.object()["msg"] as? String)?.contains("Read-only file system") == true, "\(result)")
        #expect(try pod.run(["sysctl", "-n", "net.core.somaxconn"]).stdout == before)
    }

    @Test("Without prevResult ADD fails; duplicate sysctl keys are refused")
    func invalid() throws {
        let node = try Node("tui")
        defer { node.tearDown() }
        let pod = try node.pod()
        let noPrev = #"{"cniVersion":"1.0.0","name":"tunenet","type":"tuning"}"#
        #expect(
            (try node.run("tuning", "ADD", config: noPrev, id: "ctr1", pod: pod).object()["msg"] as? String)
                == "Required prevResult missing")
        let dup =
            #"{"cniVersion":"1.0.0","name":"tunenet","type":"tuning","sysctl":{"net.ipv4.ip_forward":"1","net.ipv4.ip_forward":"0"},"prevResult":{}}"#
        #expect(
            (try node.run("tuning", "ADD", config: dup, id: "ctr1", pod: pod).object()["msg"] as? String)
                == "duplicated sysctl keys are not allowed")
    }
}
