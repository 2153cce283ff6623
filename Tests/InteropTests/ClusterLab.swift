import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A small Kubernetes-style cluster built from real parts: node netns joined by a Linux bridge
/// in a "switch" netns, each node running its own containerd (ContainerdLab) whose CNI config is
/// rendered from a conf_template when the node's pod CIDR arrives over CRI UpdateRuntimeConfig,
/// and host-gw routes (every other node's pod CIDR via that node's address). Node 1 also has
/// an "outside" netns behind it that knows no route back to any pod CIDR.
///
///     outside 10.98.0.2 --out0-- node1 10.99.0.1 --+
///                                node2 10.99.0.2 --+-- br0 (switch netns)
///                                node3 10.99.0.3 --+
final class Cluster: @unchecked Sendable {
    static var unavailableReason: String? {
        ContainerdLab.unavailableReason
            ?? (FileManager.default.fileExists(atPath: "/usr/bin/ping")
                ? nil : "/usr/bin/ping missing: apt-get install iputils-ping")
    }

    static let network = "cnitcluster", bridge = "cnitcl0"
    static let clusterCIDR = "10.244.0.0/16", clusterCIDR6 = "fd00:10:244::/56"
    static let outsideAddress = "10.98.0.2", outsideGateway = "10.98.0.1"

    static func podCIDR(_ node: Int) -> String { "10.244.\(node).0/24" }
    static func podCIDR6(_ node: Int) -> String { "fd00:10:244:\(node)::/64" }
    static func address(_ node: Int) -> String { "10.99.0.\(node)" }
    static func address6(_ node: Int) -> String { "fd00:99::\(node)" }

    /// bridge (gateway, hairpin, masquerading all but the cluster's pod CIDRs) with host-local
    /// on the node's pod CIDR(s), then portmap; containerd adds loopback. Go text/template, the
    /// data being containerd 1.6's cniConfigTemplate (PodCIDR, PodCIDRRanges, Routes).
    static func template(dualStack: Bool, ipamDir: String) -> String {
        let ranges =
            dualStack
            ? #"[{{range $i, $r := .PodCIDRRanges}}{{if $i}},{{end}}[{"subnet":"{{$r}}"}]{{end}}]"#
            : #"[[{"subnet":"{{.PodCIDR}}"}]]"#
        let routes = #"[{{range $i, $r := .Routes}}{{if $i}},{{end}}{"dst":"{{$r}}"}{{end}}]"#
        let exempt = dualStack ? #""\#(clusterCIDR)","\#(clusterCIDR6)""# : #""\#(clusterCIDR)""#
        return #"""
            {
              "cniVersion": "1.0.0",
              "name": "\#(network)",
              "plugins": [
                {"type": "bridge", "bridge": "\#(bridge)", "isGateway": true, "hairpinMode": true,
                 "ipMasq": true, "nonMasqueradeCIDRs": [\#(exempt)],
                 "ipam": {"type": "host-local", "ranges": \#(ranges), "routes": \#(routes),
                          "dataDir": "\#(ipamDir)"}},
                {"type": "portmap", "capabilities": {"portMappings": true}}
              ]
            }

            """#
    }

    let dualStack: Bool, count: Int
    let dir: String
    let switchNS: TestNamespace
    /// Node netns, index 0 is node 1.
    private(set) var nodeNS: [TestNamespace] = []
    private(set) var nodes: [ContainerdLab] = []
    private(set) var outside: TestNamespace?
    private var processes: [BackgroundProcess] = []

    /// Builds the network and starts every node's containerd, its pod CIDR sent over CRI.
    init(nodes count: Int, dualStack: Bool = false) throws {
        self.dualStack = dualStack
        self.count = count
        dir = try TestEnvironment.scratchDirectory("cluster")
        do { switchNS = try TestNamespace("clsw") } catch {
            try? FileManager.default.removeItem(atPath: dir); throw error
        }
        do {
            try link(switchNS, ["link", "add", "br0", "type", "bridge"])
            try link(switchNS, ["link", "set", "br0", "up"])
            for index in 1...count {
                let node = try TestNamespace("cln\(index)")
                nodeNS.append(node)
                try wire(node, index)
            }
            let outside = try TestNamespace("clout")
            self.outside = outside
            try link(nodeNS[0], ["link", "add", "out0", "type", "veth", "peer", "name", "eth0", "netns", outside.name])
            try link(nodeNS[0], ["addr", "add", Self.outsideGateway + "/24", "dev", "out0"])
            try link(nodeNS[0], ["link", "set", "out0", "up"])
            try link(outside, ["addr", "add", Self.outsideAddress + "/24", "dev", "eth0"])
            try link(outside, ["link", "set", "eth0", "up"])
            try link(outside, ["link", "set", "lo", "up"])
            for index in 1...count {
                let cidrs = dualStack ? "\(Self.podCIDR(index)),\(Self.podCIDR6(index))" : Self.podCIDR(index)
                nodes.append(
                    try ContainerdLab(
                        podCIDR: cidrs, node: nodeNS[index - 1],
                        cni: .template {
                            Self.template(dualStack: dualStack, ipamDir: $0)
                        }))
            }
            try startAll()
        } catch {
            tearDown(recordLeftovers: false)
            throw error
        }
    }

    private func link(_ ns: TestNamespace, _ args: [String]) throws {
        try Command.checked(["ip", "-n", ns.name] + args)
    }

    /// Node `index`: eth0 on the switch with its node address, forwarding on (a node's
    /// prerequisite for pod traffic), and a route to every other node's pod CIDR via it.
    private func wire(_ node: TestNamespace, _ index: Int) throws {
        try link(switchNS, ["link", "add", "n\(index)", "type", "veth", "peer", "name", "eth0", "netns", node.name])
        try link(switchNS, ["link", "set", "n\(index)", "master", "br0", "up"])
        try link(node, ["addr", "add", Self.address(index) + "/24", "dev", "eth0"])
        if dualStack { try link(node, ["-6", "addr", "add", Self.address6(index) + "/64", "dev", "eth0", "nodad"]) }
        try link(node, ["link", "set", "eth0", "up"])
        let sysctls = "echo 1 > /proc/sys/net/ipv4/ip_forward; echo 1 > /proc/sys/net/ipv6/conf/all/forwarding"
        try Command.checked(["nsenter", "--net=" + node.path, "sh", "-ec", sysctls])
        for other in 1...count where other != index {
            try link(node, ["route", "add", Self.podCIDR(other), "via", Self.address(other)])
            if dualStack { try link(node, ["-6", "route", "add", Self.podCIDR6(other), "via", Self.address6(other)]) }
        }
    }

    /// containerd starts on every node at once (each start is mostly waiting).
    private func startAll() throws {
        final class Results: @unchecked Sendable {
            let labs: [ContainerdLab], lock = NSLock()
            var failures: [String] = []
            init(_ labs: [ContainerdLab]) { self.labs = labs }
        }
        let results = Results(nodes)
        DispatchQueue.concurrentPerform(iterations: nodes.count) { index in
            do { try results.labs[index].start() } catch {
                results.lock.withLock { results.failures.append("node \(index + 1): \(error)") }
            }
        }
        let failures = results.failures
        if !failures.isEmpty { throw TestFailure(failures.joined(separator: "\n")) }
    }

    /// Node `n` (1-based).
    func node(_ n: Int) -> ContainerdLab { nodes[n - 1] }

    /// A pod the tests share, with a peerServer in it.
    struct StandingPod {
        let node: Int, pod: CRIPod, server: BackgroundProcess
    }
    /// By pod name: created on first use, forgotten when deleted.
    private(set) var standing: [String: StandingPod] = [:]

    /// The standing pod `name` on node `n`, run (RunPodSandbox, then its server) if missing.
    func standingPod(_ name: String, node n: Int, ports: [String] = []) throws -> CRIPod {
        if let entry = standing[name] { return entry.pod }
        let pod = try node(n).runPod(name, ports: ports)
        standing[name] = StandingPod(node: n, pod: pod, server: try serve(pod, on: node(n)))
        return pod
    }

    /// Deletes a standing pod as kubelet does: its process first, then StopPodSandbox and
    /// RemovePodSandbox.
    func delete(_ name: String) throws {
        guard let entry = standing.removeValue(forKey: name) else { return }
        entry.server.stop()
        _ = try node(entry.node).criObject(["stop", entry.pod.id])
        _ = try node(entry.node).criObject(["remove", entry.pod.id])
    }

    /// A server in the pod (python): TCP and UDP on `port`, both families, answering
    /// "<name> saw <peer address>", so the receiver reports what address it was reached from.
    static let peerServer = """
        import socket, sys, threading
        name, port = sys.argv[1], int(sys.argv[2])
        def peer(a):
            return a[0][7:] if a[0].startswith("::ffff:") else a[0]
        def sock(kind):
            s = socket.socket(socket.AF_INET6, kind)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind(("::", port))
            return s
        def udp(u):
            while True:
                data, a = u.recvfrom(2048)
                u.sendto(("%s saw %s" % (name, peer(a))).encode(), a)
        threading.Thread(target=udp, args=(sock(socket.SOCK_DGRAM),), daemon=True).start()
        t = sock(socket.SOCK_STREAM)
        t.listen(64)
        while True:
            c, a = t.accept()
            c.sendall(("%s saw %s" % (name, peer(a))).encode())
            c.close()
        """

    /// The client for peerServer, with retries (a server or a DNAT rule may need a moment):
    /// prints the reply, or the last error and exits 1.
    static let peerClient = """
        import socket, sys, time
        proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        last = ""
        for _ in range(40):
            try:
                if proto == "tcp":
                    s = socket.socket(family, socket.SOCK_STREAM); s.settimeout(1); s.connect((host, port))
                    data = b""
                    while True:
                        chunk = s.recv(2048)
                        if not chunk: break
                        data += chunk
                else:
                    s = socket.socket(family, socket.SOCK_DGRAM); s.settimeout(0.5)
                    s.sendto(b"hello", (host, port)); data = s.recv(2048)
                print(data.decode()); sys.exit(0)
            except OSError as e:
                last = "%s %s:%d: %s" % (proto, host, port, e); time.sleep(0.1)
        print(last); sys.exit(1)
        """

    /// Starts peerServer on `port` in the pod (stopped by the lab's tearDown at the latest).
    @discardableResult
    func serve(_ pod: CRIPod, on lab: ContainerdLab, port: Int = 8080) throws -> BackgroundProcess {
        try lab.background(
            pod, ["/usr/bin/python3", "-c", Self.peerServer, pod.name, "\(port)"], log: "peer-" + pod.name)
    }

    /// Starts peerServer in the outside netns, answering as "outside".
    func serveOutside(port: Int = 8080) throws {
        guard let outside else { throw TestFailure("no outside netns") }
        processes.append(
            try BackgroundProcess(
                [
                    "/usr/bin/nsenter", "--net=" + outside.path, "/usr/bin/python3", "-c", Self.peerServer, "outside",
                    "\(port)",
                ],
                environment: ["PATH": "/usr/bin:/bin"], log: dir + "/outside.log"))
    }

    /// What a peerServer answered to a client in the pod (or the client's error).
    func ask(from pod: CRIPod, on lab: ContainerdLab, _ proto: String, _ host: String, _ port: Int = 8080) throws
        -> String
    {
        let result = try lab.inPod(pod, ["/usr/bin/python3", "-c", Self.peerClient, proto, host, "\(port)"])
        return (result.stdout + result.stderr).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// What a peerServer answered to a client in node `n`'s netns.
    func ask(fromNode n: Int, _ proto: String, _ host: String, _ port: Int = 8080) throws -> String {
        let result = try Command.run([
            "nsenter", "--net=" + nodeNS[n - 1].path, "/usr/bin/python3", "-c",
            Self.peerClient, proto, host, "\(port)",
        ])
        return (result.stdout + result.stderr).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Every node's containerd and pods, then the outside, nodes and switch netns and the
    /// scratch dir. Anything left is recorded as an issue.
    func tearDown(recordLeftovers: Bool = true) {
        var problems: [String] = []
        processes.forEach { $0.stop() }
        processes = []
        // The labs record their own leftovers.
        nodes.forEach { $0.tearDown(recordLeftovers: recordLeftovers) }
        nodes = []
        for ns in [outside].compactMap({ $0 }) + nodeNS + [switchNS] {
            do { try ns.remove() } catch { problems.append("\(error)") }
        }
        outside = nil
        nodeNS = []
        do { try FileManager.default.removeItem(atPath: dir) } catch { problems.append("\(dir): \(error)") }
        if recordLeftovers && !problems.isEmpty { Issue.record("cluster teardown: \(problems)") }
    }
}
