import Foundation
import Testing
import TestSupport

/// podman 4.3 with its CNI backend, a real runtime, running our plugins from the test's
/// plugin directory. podman itself runs inside a per-test node namespace, so the bridge and
/// the container's netns never touch the real host network.
enum Podman {
    static var unavailableReason: String? {
        if !TestEnvironment.isRoot { return "needs root" }
        for tool in ["/usr/bin/podman", "/usr/sbin/runc", "/bin/busybox"]
        where !FileManager.default.fileExists(atPath: tool) {
            return "\(tool) missing: apt-get install podman runc busybox-static"
        }
        return nil
    }
}

// Serialized: podman instances share the SHM lock segment and /run/libpod even with private roots.
@Suite(
    "podman (CNI backend) runs containers on our plugins", .serialized,
    .enabled(if: Podman.unavailableReason == nil, Comment(rawValue: Podman.unavailableReason ?? "")))
struct PodmanTests {
    /// A podman instance with private storage, config and CNI network directory.
    final class Instance {
        let dir: String
        let node: TestNamespace

        init(network: String, conflist: String) throws {
            dir = try TestEnvironment.scratchDirectory("podman")
            node = try TestNamespace("pmn")
            try FileManager.default.createDirectory(atPath: dir + "/net", withIntermediateDirectories: true)
            try conflist.write(toFile: dir + "/net/\(network).conflist", atomically: true, encoding: .utf8)
            // runc with cgroupfs, and ulimits within this sandbox's limits: crun refuses the
            // hybrid cgroup layout here and podman's default ulimits exceed what root may set.
            try """
            [containers]
            default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
            [engine]
            cgroup_manager = "cgroupfs"
            runtime = "runc"
            events_logger = "file"
            tmp_dir = "\(dir)/tmp"
            [network]
            network_backend = "cni"
            cni_plugin_dirs = ["\(TestEnvironment.pluginDirectory)"]
            network_config_dir = "\(dir)/net"
            """.write(toFile: dir + "/containers.conf", atomically: true, encoding: .utf8)
            try FileManager.default.createDirectory(atPath: dir + "/rootfs/bin", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: dir + "/rootfs/bin/busybox")
            for applet in ["sh", "ip", "ping", "cat", "sleep", "httpd", "echo"] {
                try FileManager.default.createSymbolicLink(
                    atPath: dir + "/rootfs/bin/" + applet, withDestinationPath: "busybox")
            }
            try Command.checked(["tar", "-C", dir + "/rootfs", "-cf", dir + "/rootfs.tar", "."])
            let imported = try podman(["import", dir + "/rootfs.tar", "localhost/cnit-busybox:latest"])
            guard imported.status == 0 else { throw TestFailure("podman import: \(imported)") }
        }

        /// Runs podman in the node's network namespace only: `ip netns exec` would also remount
        /// /sys and hide the cgroup hierarchy runc needs.
        func podman(_ args: [String]) throws -> CommandResult {
            try Command.run(
                ["nsenter", "--net=\(node.path)", "podman", "--root", dir + "/root", "--runroot", dir + "/run"] + args,
                environment: [
                    "CONTAINERS_CONF": dir + "/containers.conf", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": dir,
                ])
        }

        func tearDown() {
            _ = try? podman(["rm", "-a", "-f"])
            _ = try? podman(["system", "reset", "-f"])
            try? node.remove()
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    @Test(
        "podman run on a bridge network: the container gets its address and reaches the gateway; --rm releases everything"
    )
    func run() throws {
        let dataDir = try TestEnvironment.scratchDirectory("pmipam")
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let conflist =
            #"{"cniVersion":"1.0.0","name":"cnitpm","plugins":[{"type":"bridge","bridge":"cnitpm0","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.71.0.0/24"}]],"routes":[{"dst":"0.0.0.0/0"}],"dataDir":"\#(dataDir)"}}]}"#
        let instance = try Instance(network: "cnitpm", conflist: conflist)
        defer { instance.tearDown() }
        let result = try instance.podman([
            "run", "--rm", "--network", "cnitpm", "localhost/cnit-busybox",
            "sh", "-c", "ip -4 addr show eth0 && ping -c 1 -W 2 10.71.0.1",
        ])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("inet 10.71.0."))
        #expect(result.stdout.contains("1 packets received"))
        let left = (try? FileManager.default.contentsOfDirectory(atPath: dataDir + "/cnitpm")) ?? []
        #expect(left.allSatisfy { $0.first?.isNumber != true }, "reservations left: \(left)")
        let links = try instance.node.ipJSON(["link", "show"]).compactMap { $0["ifname"] as? String }
        #expect(!links.contains { $0.hasPrefix("veth") }, "\(links)")
        let rules = try Command.checked(["ip", "netns", "exec", instance.node.name, "nft", "list", "ruleset"])
        #expect(!rules.contains("masquerade comment"))
    }

    @Test(
        "podman's own default chain (bridge, portmap, firewall, tuning): a published port serves from the container; rm removes every rule"
    )
    func defaultChain() throws {
        let dataDir = try TestEnvironment.scratchDirectory("pmipam")
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        // The plugin list `podman network create` writes for the CNI backend.
        let conflist =
            #"{"cniVersion":"0.4.0","name":"cnitpf","plugins":[{"type":"bridge","bridge":"cnitpf0","isGateway":true,"ipMasq":true,"hairpinMode":true,"ipam":{"type":"host-local","routes":[{"dst":"0.0.0.0/0"}],"ranges":[[{"subnet":"10.72.0.0/24","gateway":"10.72.0.1"}]],"dataDir":"\#(dataDir)"}},{"type":"portmap","capabilities":{"portMappings":true}},{"type":"firewall","backend":""},{"type":"tuning"}]}"#
        let instance = try Instance(network: "cnitpf", conflist: conflist)
        defer { instance.tearDown() }
        let started = try instance.podman([
            "run", "-d", "--name", "web", "-p", "18081:80", "--network", "cnitpf", "localhost/cnit-busybox",
            "sh", "-c", "mkdir -p /www && echo served > /www/index.html && httpd -f -p 80 -h /www",
        ])
        #expect(started.status == 0, "\(started)")
        let rules = try Command.checked(["ip", "netns", "exec", instance.node.name, "nft", "list", "ruleset"])
        #expect(rules.contains("10.72.0.2 comment"), "firewall and masquerading elements: \(rules)")
        #expect(rules.contains(": 10.72.0.2 . 80"), "the port mapping: \(rules)")
        let fetch =
            "import socket,time\nfor _ in range(25):\n    try:\n        s=socket.create_connection(('10.72.0.1',18081),2); s.send(b'GET / HTTP/1.0\\r\\n\\r\\n'); print(s.makefile('rb').read().decode()); break\n    except OSError: time.sleep(0.2)"
        let fetched = try Command.run(["ip", "netns", "exec", instance.node.name, "python3", "-c", fetch])
        #expect(fetched.stdout.contains("served"), "\(fetched)")
        let removed = try instance.podman(["rm", "-f", "-t", "0", "web"])
        #expect(removed.status == 0, "\(removed)")
        let after = try Command.checked(["ip", "netns", "exec", instance.node.name, "nft", "list", "ruleset"])
        #expect(!after.contains("10.72.0.2"), "rules left: \(after)")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: dataDir + "/cnitpf")) ?? []
        #expect(left.allSatisfy { $0.first?.isNumber != true }, "reservations left: \(left)")
    }
}
