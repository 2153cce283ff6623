import Foundation
import Testing
import TestSupport

/// A node with bridge `cnitdh0`, a DHCP server namespace (busybox udhcpd on 10.86.0.1/24,
/// leases of `lease` seconds) plugged into it, and our `dhcp daemon` running in the node.
final class DhcpLab {
    let node: Node
    let server: TestNamespace
    let socket: String
    let pidfile: String
    let log: String
    /// Where the daemon saves its leases.
    let stateDir: String
    private var daemon: pid_t?
    private var udhcpd: pid_t?

    init(_ tag: String, lease: Int = 3600, startDaemon: Bool = true) throws {
        node = try Node(tag)
        server = try node.pod("dhs")
        socket = node.dataDir + "/run/dhcp.sock"
        pidfile = node.dataDir + "/dhcp.pid"
        log = node.dataDir + "/daemon.log"
        stateDir = node.dataDir + "/dhcp-state"
        for argv in [
            ["ip", "-n", node.ns.name, "link", "add", "cnitdh0", "type", "bridge"],
            ["ip", "-n", node.ns.name, "link", "set", "cnitdh0", "up"],
            [
                "ip", "-n", node.ns.name, "link", "add", "cnitdhv0", "type", "veth", "peer", "name", "eth0", "netns",
                server.name,
            ],
            ["ip", "-n", node.ns.name, "link", "set", "cnitdhv0", "master", "cnitdh0", "up"],
            ["ip", "-n", server.name, "addr", "add", "10.86.0.1/24", "dev", "eth0"],
            ["ip", "-n", server.name, "link", "set", "eth0", "up"],
        ] {
            try Command.checked(argv)
        }
        let conf = node.dataDir + "/udhcpd.conf"
        try """
        start 10.86.0.100
        end 10.86.0.120
        interface eth0
        lease_file \(node.dataDir)/leases
        pidfile \(node.dataDir)/udhcpd.pid
        min_lease 2
        option subnet 255.255.255.0
        option router 10.86.0.1
        option lease \(lease)
        """.write(toFile: conf, atomically: true, encoding: .utf8)
        FileManager.default.createFile(atPath: node.dataDir + "/leases", contents: nil)
        udhcpd = try Self.spawn(
            ["ip", "netns", "exec", server.name, "busybox", "udhcpd", "-f", "-a", "100", conf],
            output: node.dataDir + "/udhcpd.log")
        if startDaemon { try start() }
    }

    /// Starts a long-running helper with an empty signal mask, its output in `output`, and
    /// no inherited descriptors (a pipe of a concurrent test's command, leaked into a daemon,
    /// would keep that command from ending). posix_spawn rather than Foundation's Process,
    /// whose reaper waits for its children one at a time.
    static func spawn(_ argv: [String], output: String) throws -> pid_t {
        let full =
            ["/usr/bin/python3", "-c", "import os, sys; os.closerange(3, 65536); os.execvp(sys.argv[1], sys.argv[1:])"]
            + argv
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        var cArgs = full.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, full[0], &actions, &attributes, &cArgs, environ)
        guard rc == 0 else { throw TestFailure("posix_spawn \(argv): \(rc)") }
        return pid
    }

    /// Signals `pid` and reaps it; returns its exit status, or nil when it was killed.
    static func end(_ pid: pid_t, signal: Int32) -> Int32? {
        kill(pid, signal)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status & 0x7f == 0 ? (status >> 8) & 0xff : nil
    }

    /// Starts the daemon; `activated` starts it the way a systemd socket unit does.
    func start(activated: Bool = false) throws {
        let launcher = activated ? ["systemd-socket-activate", "-l", socket] : []
        try FileManager.default.createDirectory(atPath: node.dataDir + "/run", withIntermediateDirectories: true)
        daemon = try Self.spawn(
            ["ip", "netns", "exec", node.ns.name] + launcher + [
                TestEnvironment.plugin("dhcp"), "daemon",
                "-socketpath", socket, "-pidfile", pidfile, "-resendtimeout", "20s", "-statedir", stateDir,
            ], output: log)
        guard eventually(5, { FileManager.default.fileExists(atPath: socket) }) else {
            throw TestFailure("daemon did not start: \(daemonLog)")
        }
    }

    /// SIGTERM, as systemd stops it; returns its exit status.
    func stop() -> Int32? {
        guard let pid = daemon else { return nil }
        daemon = nil
        return Self.end(pid, signal: SIGTERM)
    }

    var daemonLog: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
    var serverLog: String { (try? String(contentsOfFile: node.dataDir + "/udhcpd.log", encoding: .utf8)) ?? "" }

    /// The server's view of `address`'s lease ("expired" once released): udhcpd writes its
    /// lease file on SIGUSR1, and dumpleases prints the time left.
    func serverLease(_ address: String) throws -> String? {
        guard let udhcpd else { throw TestFailure("udhcpd is not running") }
        let file = node.dataDir + "/leases"
        let before = (try? FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date) ?? nil
        kill(udhcpd, SIGUSR1)
        _ = eventually(2) {
            let now = (try? FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date) ?? nil
            return now != before
        }
        let rows = try Command.checked(["busybox", "dumpleases", "-r", "-f", file]).split(separator: "\n")
        return rows.first { $0.split(separator: " ").contains(Substring(address)) }.map(String.init)
    }

    func config(version: String = "1.0.0", ipam extra: String = "") -> String {
        #"{"cniVersion":"\#(version)","name":"dhnet","type":"bridge","bridge":"cnitdh0","ipam":{"type":"dhcp","daemonSocketPath":"\#(socket)"\#(extra)}}"#
    }

    func tearDown() {
        _ = stop()
        if let udhcpd { _ = Self.end(udhcpd, signal: SIGKILL) }
        node.tearDown()
    }
}

@Suite(
    "dhcp with a real DHCP server (udhcpd) behind a bridge: lease, renewal, release, GC, STATUS, daemon lifecycle",
    .enabled(
        if: TestEnvironment.isRoot && FileManager.default.fileExists(atPath: "/bin/busybox"),
        "needs root and busybox (udhcpd)"))
struct DhcpTests {
    func address(_ result: CommandResult) throws -> String {
        let ips = try result.object()["ips"] as? [[String: Any]]
        return ips?.first?["address"] as? String ?? ""
    }

    @Test(
        "bridge + dhcp: the pod gets a lease in every result version and reaches the server; CHECK; DEL releases; a second DEL succeeds",
        arguments: ["0.3.1", "1.0.0"])
    func lease(version: String) throws {
        let lab = try DhcpLab("dhl")
        defer { lab.tearDown() }
        let pod = try lab.node.pod()
        let added = try lab.node.run("bridge", "ADD", config: lab.config(version: version), id: "ctr1", pod: pod)
        #expect(added.status == 0, "\(added)\n\(lab.daemonLog)")
        let address = try address(added)
        #expect(address.hasPrefix("10.86.0.1") && address.hasSuffix("/24"), "\(added)")
        #expect(try ((added.object()["ips"] as? [[String: Any]])?.first?["gateway"] as? String) == "10.86.0.1")
        #expect(try ping(pod, "10.86.0.1"))
        let withPrev = String(lab.config(version: version).dropLast()) + #","prevResult":\#(added.stdout)}"#
        if version != "0.3.1" {
            #expect(try lab.node.run("bridge", "CHECK", config: withPrev, id: "ctr1", pod: pod).status == 0)
        }
        let ip = String(address.prefix { $0 != "/" })
        let granted = try lab.serverLease(ip)
        #expect(granted != nil && granted?.contains("expired") == false, "\(granted ?? "no lease")")
        #expect(
            try lab.node.run("bridge", "DEL", config: lab.config(version: version), id: "ctr1", pod: pod).status == 0)
        #expect(
            try lab.node.run("bridge", "DEL", config: lab.config(version: version), id: "ctr1", pod: pod).status == 0)
        #expect(lab.daemonLog.contains("released ctr1/dhnet/eth0"), "\(lab.daemonLog)")
        // The DHCPRELEASE reached the server: it ended the lease rather than letting it run out.
        let released = try eventually { try lab.serverLease(ip)?.contains("expired") == true }
        let view = try lab.serverLease(ip) ?? "no lease"
        #expect(released, "\(view)\n\(lab.serverLog)")
        #expect(try lab.node.links().filter { $0.hasPrefix("veth") }.isEmpty)
    }

    @Test("A short lease is renewed while the pod lives: past its expiry the link is still up")
    func renewal() throws {
        let lab = try DhcpLab("dhr", lease: 4)
        defer { lab.tearDown() }
        let pod = try lab.node.pod()
        let added = try lab.node.run("bridge", "ADD", config: lab.config(), id: "ctr1", pod: pod)
        #expect(added.status == 0, "\(added)")
        usleep(6_500_000)
        #expect(lab.daemonLog.contains("renewed ctr1/dhnet/eth0"), "\(lab.daemonLog)")
        let link = try pod.ipJSON(["link", "show", "eth0"]).first
        #expect((link?["flags"] as? [String])?.contains("UP") == true)
        #expect(try ping(pod, "10.86.0.1"))
        #expect(try lab.node.run("bridge", "DEL", config: lab.config(), id: "ctr1", pod: pod).status == 0)
    }

    @Test("GC releases the leases of attachments that are not valid; STATUS answers while the daemon runs")
    func collect() throws {
        let lab = try DhcpLab("dhg")
        defer { lab.tearDown() }
        let (a, b) = (try lab.node.pod("dha"), try lab.node.pod("dhb"))
        #expect(try lab.node.run("bridge", "ADD", config: lab.config(), id: "a", pod: a).status == 0)
        #expect(try lab.node.run("bridge", "ADD", config: lab.config(), id: "b", pod: b).status == 0)
        let gc =
            #"{"cniVersion":"1.1.0","name":"dhnet","type":"dhcp","ipam":{"type":"dhcp","daemonSocketPath":"\#(lab.socket)"},"cni.dev/valid-attachments":[{"containerID":"a","ifname":"eth0"}]}"#
        #expect(try lab.node.run("dhcp", "GC", config: gc, id: "", pod: nil).status == 0)
        #expect(
            lab.daemonLog.contains("released b/dhnet/eth0") && !lab.daemonLog.contains("released a/"),
            "\(lab.daemonLog)")
        let status =
            #"{"cniVersion":"1.1.0","name":"dhnet","type":"dhcp","ipam":{"type":"dhcp","daemonSocketPath":"\#(lab.socket)"}}"#
        #expect(try lab.node.run("dhcp", "STATUS", config: status, id: "", pod: nil).status == 0)
        #expect(try lab.node.run("bridge", "DEL", config: lab.config(), id: "a", pod: a).status == 0)
        #expect(try lab.node.run("bridge", "DEL", config: lab.config(), id: "b", pod: b).status == 0)
    }

    @Test(
        "systemd socket activation: the daemon serves the socket it inherits",
        .enabled(
            if: FileManager.default.fileExists(atPath: "/usr/bin/systemd-socket-activate"),
            "needs systemd-socket-activate"))
    func socketActivation() throws {
        let lab = try DhcpLab("dha", startDaemon: false)
        defer { lab.tearDown() }
        try lab.start(activated: true)
        let pod = try lab.node.pod()
        let added = try lab.node.run("bridge", "ADD", config: lab.config(), id: "ctr1", pod: pod)
        #expect(added.status == 0, "\(added)\n\(lab.daemonLog)")
        #expect(lab.daemonLog.contains("listening on the socket systemd passed"), "\(lab.daemonLog)")
        #expect(try lab.node.run("bridge", "DEL", config: lab.config(), id: "ctr1", pod: pod).status == 0)
    }

    @Test(
        "With the Go reference daemon on the socket, ADD fails with an error that says so",
        .enabled(
            if: FileManager.default.fileExists(atPath: "/usr/lib/cni/dhcp"),
            "needs the reference plugins in /usr/lib/cni"))
    func foreignDaemon() throws {
        let lab = try DhcpLab("dhf", startDaemon: false)
        defer { lab.tearDown() }
        let pid = try DhcpLab.spawn(
            ["ip", "netns", "exec", lab.node.ns.name, "/usr/lib/cni/dhcp", "daemon", "-socketpath", lab.socket],
            output: lab.log)
        defer { _ = DhcpLab.end(pid, signal: SIGKILL) }
        #expect(eventually(5) { FileManager.default.fileExists(atPath: lab.socket) })
        let pod = try lab.node.pod()
        let added = try lab.node.run("bridge", "ADD", config: lab.config(), id: "ctr1", pod: pod)
        #expect(
            try added.status == 1 && (added.object()["msg"] as? String)?.contains("Go reference daemon") == true,
            "\(added)")
    }

    @Test("A symlink planted at the pidfile is replaced, never written through")
    func plantedPidfile() throws {
        let lab = try DhcpLab("dhp", startDaemon: false)
        defer { lab.tearDown() }
        let target = lab.node.dataDir + "/precious"
        try "precious\n".write(toFile: target, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: lab.pidfile, withDestinationPath: target)
        try lab.start()
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "precious\n")
        #expect(
            eventually {
                (try? FileManager.default.attributesOfItem(atPath: lab.pidfile)[.type] as? FileAttributeType)
                    == .typeRegular
            })
        #expect(lab.stop() == 0)
    }

    @Test(
        "Without a daemon: ADD fails and rolls back, STATUS is code 50, DEL succeeds; SIGTERM removes socket and pidfile"
    )
    func daemonLifecycle() throws {
        let lab = try DhcpLab("dhd")
        defer { lab.tearDown() }
        #expect(FileManager.default.fileExists(atPath: lab.pidfile))
        #expect(lab.stop() == 0)
        #expect(
            !FileManager.default.fileExists(atPath: lab.socket) && !FileManager.default.fileExists(atPath: lab.pidfile))
        let pod = try lab.node.pod()
        let added = try lab.node.run("bridge", "ADD", config: lab.config(), id: "ctr1", pod: pod)
        #expect(
            try added.status == 1 && (added.object()["msg"] as? String)?.contains("error dialing DHCP daemon") == true,
            "\(added)")
        #expect(try lab.node.links().filter { $0.hasPrefix("veth") }.isEmpty, "the veth is rolled back")
        let status =
            #"{"cniVersion":"1.1.0","name":"dhnet","type":"dhcp","ipam":{"type":"dhcp","daemonSocketPath":"\#(lab.socket)"}}"#
        let answered = try lab.node.run("dhcp", "STATUS", config: status, id: "", pod: nil)
        #expect(try answered.status == 1 && answered.object()["code"] as? Int == 50, "\(answered)")
        #expect(try lab.node.run("bridge", "DEL", config: lab.config(), id: "ctr1", pod: pod).status == 0)
        let bad = try lab.node.run(
            "bridge", "ADD", config: lab.config(ipam: #","request":[{"option":"no-such-option"}]"#), id: "ctr1",
            pod: pod)
        #expect(
            (try bad.object()["msg"] as? String)?.hasPrefix("Can not parse option \"no-such-option\"") == true, "\(bad)"
        )
    }
}
