import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A program left running in the background (containerd, a server inside a pod), with its
/// output appended to a log file. This process is its parent, so `stop()` also reaps it.
final class BackgroundProcess {
    let pid: pid_t
    let log: String
    private var exited = false

    init(_ argv: [String], environment: [String: String], log: String) throws {
        self.log = log
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Default dispositions and an empty mask: a daemon must not inherit an ignored SIGPIPE
        // or blocked signals from the test runner.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t(), none = sigset_t()
        _ = (sigfillset(&all), sigemptyset(&none))
        _ = (posix_spawnattr_setsigdefault(&attributes, &all), posix_spawnattr_setsigmask(&attributes, &none))
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let cEnv: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawnp(&child, argv[0], &actions, &attributes, cArgs, cEnv)
        guard rc == 0 else { throw TestFailure("cannot exec \(argv[0]): \(String(cString: strerror(rc)))") }
        pid = child
    }

    /// True until the process has exited (and been reaped).
    var isRunning: Bool {
        if exited { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { exited = true }
        return !exited
    }

    /// Sends `signal`, then SIGKILL when it has not exited after `grace` seconds; reaps it.
    func stop(signal: Int32 = SIGTERM, grace: Double = 10) {
        guard isRunning else { return }
        kill(pid, signal)
        let deadline = Date().addingTimeInterval(grace)
        while isRunning && Date() < deadline { usleep(50_000) }
        if isRunning { kill(pid, SIGKILL) }
        var status: Int32 = 0
        while !exited && waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        exited = true
    }

    /// The last lines of the log, for failure messages.
    var logTail: String {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(25).joined(separator: "\n")
    }
}

/// A pod sandbox as containerd reports it.
struct CRIPod {
    let id: String, name: String, ip: String
    /// PodSandboxStatus's additional_ips (dual stack: the other family's address).
    var additionalIPs: [String] = []
    /// The pod's network namespace, a bind mount under containerd's state dir: it exists only
    /// in containerd's mount namespace.
    let netns: String
    /// The sandbox's cgroup, relative to each hierarchy's root.
    let cgroup: String
}

/// containerd 1.6 with its built-in CRI plugin, started the way a node starts kubelet's runtime,
/// inside a per-test node network namespace, with private root, state, sockets and CNI dirs.
///
/// containerd gets a mount namespace of its own that outlives its restarts (a namespace file
/// bind-mounted in the scratch dir): `ip netns exec` would remount /sys and runc would find no
/// cgroup mounts, and the host must never see containerd's mounts (rootfs, shm, pod netns).
final class ContainerdLab {
    static var unavailableReason: String? {
        if !TestEnvironment.isRoot { return "needs root" }
        let tools = [
            "/usr/bin/containerd", "/usr/bin/ctr", "/usr/bin/containerd-shim-runc-v2", "/usr/sbin/runc",
            "/bin/busybox", "/usr/bin/python3", "/usr/bin/nsenter", "/usr/bin/unshare", "/usr/bin/prlimit",
            "/usr/sbin/tc", "/usr/sbin/nft",
        ]
        for tool in tools where !FileManager.default.fileExists(atPath: tool) {
            return "\(tool) missing: apt-get install containerd runc busybox-static python3-grpcio python3-grpc-tools"
        }
        let grpc = try? Command.run(["/usr/bin/python3", "-c", "import grpc, grpc_tools.protoc"])
        if grpc?.status != 0 { return "python3 grpc missing: apt-get install python3-grpcio python3-grpc-tools" }
        return nil
    }

    static let client = TestEnvironment.repositoryRoot
        .appendingPathComponent("Tests/InteropTests/cri/cri_client.py").path
    /// Generated gRPC stubs live under .build, so the repository holds only api.proto.
    static let stubs = TestEnvironment.repositoryRoot.appendingPathComponent(".build/cri-stubs").path
    static let pauseImage = "localhost/cnit/pause:1"

    /// `cnit-cri-<8 hex>`: the scratch dir's name, also the top cgroup of every pod.
    let name: String, dir: String, podCIDR: String
    let node: TestNamespace
    /// False when the node netns was given to init: its owner removes it, not tearDown.
    private let ownsNode: Bool
    /// Set when the CNI config comes from a conf_template (written here, outside the conf dir).
    let templatePath: String?
    /// Where containerd renders conf_template (cniConfigFileName in update_runtime_config.go).
    var renderedConflist: String { dir + "/net/10-containerd-net.conflist" }
    var socket: String { dir + "/containerd.sock" }
    var mountNamespace: String { dir + "/ns/mnt" }
    /// host-local's dataDir for the conflist.
    var ipamDir: String { dir + "/ipam" }
    private var daemon: BackgroundProcess?
    /// Servers started in pods, stopped (and reaped) by tearDown if the test did not.
    private var servers: [BackgroundProcess] = []
    private var imported = false
    /// What tearDown must unmount: the private bind mount of ns/, the namespace file in it.
    private var boundNsDir = false, boundNamespace = false

    /// How the node gets its CNI network config; each is given host-local's dataDir.
    enum CNISetup {
        /// A conflist in the conf dir before containerd starts.
        case conflist((_ ipamDir: String) -> String)
        /// A conf_template (Go text/template over PodCIDR, PodCIDRRanges, Routes); the conf dir
        /// starts empty and containerd renders it on the first UpdateRuntimeConfig.
        case template((_ ipamDir: String) -> String)
    }

    /// - Parameter conflist: the network config, given host-local's dataDir.
    convenience init(
        podCIDR: String, pluginDirectory: String = TestEnvironment.pluginDirectory,
        conflist: @escaping (_ ipamDir: String) -> String
    ) throws {
        try self.init(podCIDR: podCIDR, pluginDirectory: pluginDirectory, cni: .conflist(conflist))
    }

    /// - Parameters:
    ///   - podCIDR: what UpdateRuntimeConfig sends, comma-separated for dual stack as kubelet does.
    ///   - node: the node netns to run in (left to its owner); nil makes and removes one.
    init(
        podCIDR: String, node: TestNamespace? = nil, pluginDirectory: String = TestEnvironment.pluginDirectory,
        cni: CNISetup
    ) throws {
        dir = try TestEnvironment.scratchDirectory("cri")
        name = URL(fileURLWithPath: dir).lastPathComponent
        self.podCIDR = podCIDR
        ownsNode = node == nil
        if case .template = cni { templatePath = dir + "/cni-template.conflist" } else { templatePath = nil }
        do { self.node = try node ?? TestNamespace("crin") } catch {
            try? FileManager.default.removeItem(atPath: dir)
            throw error
        }
        do {
            for sub in ["ns", "root", "state", "tmp", "net", "ipam", "image", "logs"] {
                try FileManager.default.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true)
            }
            _ = try self.node.run(["ip", "link", "set", "lo", "up"])
            switch cni {
            case .conflist(let text):
                try text(ipamDir).write(toFile: dir + "/net/10-cnit.conflist", atomically: true, encoding: .utf8)
            case .template(let text):
                try text(ipamDir).write(toFile: templatePath!, atomically: true, encoding: .utf8)
            }
            try config(pluginDirectory: pluginDirectory, template: templatePath)
                .write(toFile: dir + "/config.toml", atomically: true, encoding: .utf8)
            try buildPauseImage()
            try makeMountNamespace()
        } catch {
            tearDown(recordLeftovers: false)
            throw error
        }
    }

    /// containerd's mount namespace, persisted in a file (which must sit on a private mount).
    /// Inside it, other tests' netns and scratch mounts that were copied are dropped (they would
    /// stay busy while we live), and tmpfs hide /run and /var/lib: shim sockets (/run/containerd/s),
    /// runc state and libcni's result cache (/var/lib/cni) stay private and vanish with it.
    private func makeMountNamespace() throws {
        try Command.checked(["mount", "--bind", dir + "/ns", dir + "/ns"])
        boundNsDir = true
        try Command.checked(["mount", "--make-private", dir + "/ns"])
        _ = FileManager.default.createFile(atPath: mountNamespace, contents: nil)
        try Command.checked(["unshare", "--mount=" + mountNamespace, "--propagation", "private", "true"])
        boundNamespace = true
        // Another test may delete its netns while this copy is being pruned: a mount gone by
        // the time it is unmounted is fine (the tmpfs over /run hides the rest anyway).
        let prune = """
            awk -v own="\(dir)" '$5 ~ "^/run/netns" || ($5 ~ "^/tmp/cnit-" && index($5, own) != 1) { print $5 }' \
                /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
            mount -t tmpfs -o mode=0755 cnit-run /run && mount -t tmpfs -o mode=0755 cnit-varlib /var/lib
            """
        try Command.checked(["nsenter", "--mount=" + mountNamespace, "sh", "-ec", prune])
    }

    /// Starts containerd in the node netns and waits until the CRI answers and has loaded the
    /// CNI config (NetworkReady), as kubelet waits; then sends the pod CIDR like kubelet does.
    /// With a conf_template, the pod CIDR comes first: it is what makes the network ready.
    func start() throws {
        if daemon?.isRunning == true { throw TestFailure("containerd is already running") }
        var hard = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &hard)
        let env = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR": dir + "/tmp"]
        // containerd raises NOFILE itself on a real node (systemd LimitNOFILE); do it for it here.
        daemon = try BackgroundProcess(
            [
                "/usr/bin/prlimit", "--nofile=\(hard.rlim_max):\(hard.rlim_max)",
                "/usr/bin/nsenter", "--mount=" + mountNamespace, "--net=" + node.path,
                "/usr/bin/containerd", "--config", dir + "/config.toml",
            ],
            environment: env, log: dir + "/logs/containerd.log")
        try waitFor("the CRI to answer") { try cri(["version"]).status == 0 }
        if !imported {
            let result = try Command.run([
                "/usr/bin/ctr", "-a", socket, "-n", "k8s.io", "images", "import",
                dir + "/image/pause.tar",
            ])
            guard result.status == 0 else { throw TestFailure("ctr images import: \(result)") }
            imported = true
        }
        if templatePath != nil { _ = try criObject(["update-config", "--pod-cidr", podCIDR]) }
        try waitFor("NetworkReady") {
            let status = try criObject(["runtime-status"])
            let conditions = (status["status"] as? [String: Any])?["conditions"] as? [[String: Any]] ?? []
            return conditions.contains { $0["type"] as? String == "NetworkReady" && $0["status"] as? Bool == true }
        }
        if templatePath == nil { _ = try criObject(["update-config", "--pod-cidr", podCIDR]) }
    }

    private func waitFor(_ what: String, seconds: Double = 30, _ ready: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard daemon?.isRunning == true else {
                throw TestFailure("containerd exited waiting for \(what):\n\(daemon?.logTail ?? "")")
            }
            if try ready() { return }
            usleep(100_000)
        }
        throw TestFailure("timed out waiting for \(what):\n\(daemon?.logTail ?? "")")
    }

    /// Stops containerd only: shims and pods keep running, as on a node when it is restarted.
    func stop(signal: Int32 = SIGTERM) {
        daemon?.stop(signal: signal)
        daemon = nil
    }

    /// Kills containerd (SIGKILL by default, a crash) and starts it again on the same state.
    func restart(signal: Int32 = SIGKILL) throws {
        stop(signal: signal)
        try start()
    }

    /// Runs cri_client.py against this containerd.
    func cri(_ args: [String]) throws -> CommandResult {
        try Command.run(
            ["/usr/bin/python3", Self.client, "--socket", socket, "--gen-dir", Self.stubs] + args,
            environment: ["PATH": "/usr/bin:/bin", "HOME": dir])
    }

    /// A CRI call that must succeed, its reply parsed.
    func criObject(_ args: [String]) throws -> [String: Any] {
        let result = try cri(args)
        guard result.status == 0 else { throw TestFailure("cri \(args.joined(separator: " ")): \(result)") }
        return try result.object()
    }

    /// RunPodSandbox with what kubelet would send for a pod (cgroup parent, log dir), then reads
    /// back its address and netns from PodSandboxStatus.
    func runPod(_ name: String, ports: [String] = [], ingress: String? = nil, egress: String? = nil) throws -> CRIPod {
        let uid = UUID().uuidString.lowercased()
        var args = [
            "run", "--name", name, "--namespace", "default", "--uid", uid,
            "--cgroup-parent", "/\(self.name)/besteffort/pod\(uid)",
            "--log-directory", dir + "/logs/default_\(name)_\(uid)",
        ]
        args += ports.flatMap { ["--port", $0] }
        if let ingress { args += ["--ingress", ingress] }
        if let egress { args += ["--egress", egress] }
        guard let id = try criObject(args)["pod_sandbox_id"] as? String else { throw TestFailure("no pod_sandbox_id") }
        return try pod(id)
    }

    func pod(_ id: String) throws -> CRIPod {
        let reply = try criObject(["status", id])
        let status = reply["status"] as? [String: Any] ?? [:]
        let network = status["network"] as? [String: Any]
        let ip = network?["ip"] as? String ?? ""
        let more = (network?["additional_ips"] as? [[String: Any]] ?? []).compactMap { $0["ip"] as? String }
        let name = (status["metadata"] as? [String: Any])?["name"] as? String ?? ""
        let info = (reply["info"] as? [String: Any])?["info"] as? [String: Any]
        let spec = (info?["runtimeSpec"] as? [String: Any])?["linux"] as? [String: Any]
        let namespaces = spec?["namespaces"] as? [[String: Any]] ?? []
        let netns = namespaces.first { $0["type"] as? String == "network" }?["path"] as? String ?? ""
        let cgroup = spec?["cgroupsPath"] as? String ?? ""
        return CRIPod(id: id, name: name, ip: ip, additionalIPs: more, netns: netns, cgroup: cgroup)
    }

    /// Argv prefix that runs a command inside the pod's netns: first containerd's mount
    /// namespace, where the netns path exists, then the netns (nsenter opens every path before
    /// entering any namespace, hence two).
    func podArgv(_ pod: CRIPod, _ argv: [String]) -> [String] {
        ["/usr/bin/nsenter", "--mount=" + mountNamespace, "/usr/bin/nsenter", "--net=" + pod.netns] + argv
    }
    func inPod(_ pod: CRIPod, _ argv: [String]) throws -> CommandResult {
        try Command.run(podArgv(pod, argv), environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"])
    }

    /// Starts busybox httpd on port 80 in the pod, answering "served by <pod>".
    func serve(_ pod: CRIPod) throws -> BackgroundProcess {
        let www = dir + "/www-" + pod.id.prefix(12)
        try FileManager.default.createDirectory(atPath: www, withIntermediateDirectories: true)
        try "served by \(pod.name)\n".write(toFile: www + "/index.html", atomically: true, encoding: .utf8)
        return try background(pod, ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", www], log: "httpd")
    }

    /// Starts `argv` in the pod's netns, logging to logs/<log>.log; tearDown stops it if the
    /// test did not.
    func background(_ pod: CRIPod, _ argv: [String], log: String) throws -> BackgroundProcess {
        let process = try BackgroundProcess(
            podArgv(pod, argv), environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"],
            log: dir + "/logs/\(log).log")
        servers.append(process)
        return process
    }

    /// Every process of this lab: containerd, shims and runc (their argv holds our dir), all
    /// in containerd's mount namespace, and the pods' processes (in our cgroups).
    func processes() -> [String] {
        // stat() of the bind-mounted namespace file gives the namespace's inode.
        var st = stat()
        let nsID: UInt? = boundNamespace && stat(mountNamespace, &st) == 0 ? UInt(st.st_ino) : nil
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { Int32($0) } ?? []
        return pids.compactMap { pid -> String? in
            let proc = "/proc/\(pid)"
            guard let stat = try? String(contentsOfFile: proc + "/stat", encoding: .utf8),
                !stat.contains(") Z ")
            else { return nil }  // zombies are init's to reap
            let argv = ((try? Data(contentsOf: URL(fileURLWithPath: proc + "/cmdline"))) ?? Data())
                .split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
            let cgroup = (try? String(contentsOfFile: proc + "/cgroup", encoding: .utf8)) ?? ""
            let mnt = (try? FileManager.default.destinationOfSymbolicLink(atPath: proc + "/ns/mnt")) ?? ""
            let inLab = nsID.map { mnt == "mnt:[\($0)]" } ?? false
            return argv.contains(dir) || cgroup.contains("/\(name)/") || inLab ? "\(pid) \(argv)" : nil
        }
    }

    /// Removes everything: pods (through the CRI, as kubelet drains a node), containerd, any
    /// process left, the mount namespace, our cgroups, the node netns and the scratch dir.
    /// A process that outlived all that (killed), or anything that could not be removed, is
    /// recorded as a test issue.
    func tearDown(recordLeftovers: Bool = true) {
        var problems: [String] = []
        servers.forEach { $0.stop() }
        if daemon?.isRunning == true, let list = try? criObject(["list"]) {
            for item in list["items"] as? [[String: Any]] ?? [] {
                guard let id = item["id"] as? String else { continue }
                _ = try? cri(["stop", id])
                _ = try? cri(["remove", id])
            }
        }
        stop()
        var left = processes()
        if !left.isEmpty { problems.append("killed: \(left)") }
        let deadline = Date().addingTimeInterval(10)
        while !left.isEmpty && Date() < deadline {
            for entry in left { if let pid = Int32(entry.prefix { $0 != " " }) { kill(pid, SIGKILL) } }
            usleep(100_000)
            left = processes()
        }
        if !left.isEmpty { problems.append("processes left: \(left)") }
        let bound = [(boundNamespace, mountNamespace), (boundNsDir, dir + "/ns")].filter { $0.0 }.map { $0.1 }
        for path in bound where (try? Command.run(["umount", path]))?.status != 0 {
            _ = try? Command.run(["umount", "-l", path])
            problems.append("\(path) was busy")
        }
        boundNamespace = false
        boundNsDir = false
        problems += removeCgroups()
        if ownsNode { do { try node.remove() } catch { problems.append("\(error)") } }
        do { try FileManager.default.removeItem(atPath: dir) } catch { problems.append("\(dir): \(error)") }
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        if mounts.contains(dir) { problems.append("mounts left under \(dir)") }
        if recordLeftovers && !problems.isEmpty { Issue.record("containerd lab teardown: \(problems)") }
    }

    /// The `/<name>` cgroup in every hierarchy: runc removes each sandbox's own cgroup, and the
    /// per-pod parents are the kubelet's job, so here they are ours.
    private func removeCgroups() -> [String] {
        let hierarchies = (try? Command.checked(["findmnt", "-rn", "-t", "cgroup,cgroup2", "-o", "TARGET"])) ?? ""
        return hierarchies.split(separator: "\n").map { $0 + "/" + name }.filter { top in
            for _ in 0..<50 where FileManager.default.fileExists(atPath: top) {
                // Deepest first: a cgroup goes with rmdir once it has no children and no tasks.
                _ = try? Command.run(["find", top, "-depth", "-type", "d", "-delete"])
                if FileManager.default.fileExists(atPath: top) { usleep(100_000) }
            }
            return FileManager.default.fileExists(atPath: top)
        }.map { "cgroup \($0) left" }
    }
}
