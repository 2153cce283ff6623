import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Tears down the cluster the suite's tests share when the suite is done.
struct SharedClusterScope: SuiteTrait, TestScoping {
    func provideScope(
        for test: Test, testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        defer { ClusterTests.releaseShared() }
        try await function()
    }
}

/// Our plugins as the network of a three-node cluster (Cluster): containerd 1.6 on every node
/// renders its CNI config from a conf_template when kubelet's UpdateRuntimeConfig brings the
/// node's pod CIDR, and nodes route each other's pod CIDRs (host-gw). Pods talk across nodes
/// with their own addresses, reach hostPorts of other nodes and the outside (masqueraded),
/// and leave nothing behind.
// Serialized: the tests share one cluster (built on first use, torn down by SharedClusterScope).
@Suite(
    "cluster", .serialized,
    .enabled(if: Cluster.unavailableReason == nil, Comment(rawValue: Cluster.unavailableReason ?? "")),
    SharedClusterScope())
struct ClusterTests {

    nonisolated(unsafe) private static var shared: Cluster?
    nonisolated(unsafe) private static var sharedFailure: String?

    /// The shared IPv4 cluster; a failure to build it is reported once and then repeated.
    static func cluster() throws -> Cluster {
        if let shared { return shared }
        if let sharedFailure { throw TestFailure("the cluster could not be built: \(sharedFailure)") }
        do { shared = try Cluster(nodes: 3) } catch { sharedFailure = "\(error)"; throw error }
        return shared!
    }

    static func releaseShared() {
        shared?.tearDown()
        shared = nil
    }

    /// web1 on node 1, web2 on node 2 (hostPort 30080 tcp and udp), web3 and web3b on node 3.
    static func pods(_ cluster: Cluster) throws -> (web1: CRIPod, web2: CRIPod, web3: CRIPod, web3b: CRIPod) {
        (
            try cluster.standingPod("web1", node: 1),
            try cluster.standingPod("web2", node: 2, ports: ["30080:8080/tcp", "30080:8080/udp"]),
            try cluster.standingPod("web3", node: 3), try cluster.standingPod("web3b", node: 3)
        )
    }

    static func inCIDR(_ ip: String, node: Int) -> Bool {
        ip.hasPrefix("10.244.\(node).") && ip != "10.244.\(node).1"
    }

    @Test("containerd renders the conf_template with the pod CIDR from UpdateRuntimeConfig")
    func renderedConfig() throws {
        let cluster = try Self.cluster()
        for n in 1...cluster.count {
            let lab = cluster.node(n)
            // The template stays a template: the rendering is containerd's.
            let template = try String(contentsOfFile: try #require(lab.templatePath), encoding: .utf8)
            #expect(template.contains("{{.PodCIDR}}"))
            let files = try FileManager.default.contentsOfDirectory(atPath: lab.dir + "/net")
            #expect(files == ["10-containerd-net.conflist"], "node \(n) conf dir: \(files)")
            let data = try Data(contentsOf: URL(fileURLWithPath: lab.renderedConflist))
            let conf = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "node \(n)")
            let plugins = conf["plugins"] as? [[String: Any]] ?? []
            let ipam = plugins.first?["ipam"] as? [String: Any]
            let subnets = (ipam?["ranges"] as? [[[String: Any]]] ?? []).flatMap {
                $0.compactMap { $0["subnet"] as? String }
            }
            #expect(subnets == [Cluster.podCIDR(n)], "node \(n) rendered: \(String(decoding: data, as: UTF8.self))")
            #expect(plugins.first?["nonMasqueradeCIDRs"] as? [String] == [Cluster.clusterCIDR])
            #expect(plugins.map { $0["type"] as? String ?? "" } == ["bridge", "portmap"])
        }
        let pods = try Self.pods(cluster)
        #expect(Self.inCIDR(pods.web1.ip, node: 1) && Self.inCIDR(pods.web2.ip, node: 2), "\(pods)")
        #expect(Self.inCIDR(pods.web3.ip, node: 3) && Self.inCIDR(pods.web3b.ip, node: 3), "\(pods)")
    }

    @Test("pods on different nodes reach each other with their own addresses (TCP and UDP, no NAT)")
    func podToPodAcrossNodes() throws {
        let cluster = try Self.cluster()
        let pods = try Self.pods(cluster)
        for proto in ["tcp", "udp"] {
            #expect(
                try cluster.ask(from: pods.web1, on: cluster.node(1), proto, pods.web2.ip) == "web2 saw \(pods.web1.ip)"
            )
            #expect(
                try cluster.ask(from: pods.web2, on: cluster.node(2), proto, pods.web1.ip) == "web1 saw \(pods.web2.ip)"
            )
            #expect(
                try cluster.ask(from: pods.web3, on: cluster.node(3), proto, pods.web1.ip) == "web1 saw \(pods.web3.ip)"
            )
        }
    }

    @Test("every node reaches every pod")
    func nodeToPod() throws {
        let cluster = try Self.cluster()
        let pods = try Self.pods(cluster)
        for n in 1...cluster.count {
            for (pod, home) in [(pods.web1, 1), (pods.web2, 2), (pods.web3, 3)] {
                // From its own node through the bridge (gateway address), else over the node network.
                let from = home == n ? "10.244.\(n).1" : Cluster.address(n)
                for proto in ["tcp", "udp"] {
                    #expect(try cluster.ask(fromNode: n, proto, pod.ip) == "\(pod.name) saw \(from)", "node \(n)")
                }
            }
        }
    }

    @Test("a pod reaches a hostPort published on another node at that node's address")
    func hostPortOnAnotherNode() throws {
        let cluster = try Self.cluster()
        let pods = try Self.pods(cluster)
        let node2 = Cluster.address(2)
        for proto in ["tcp", "udp"] {
            // Leaving the cluster CIDR for a node address, the client is masqueraded by its node.
            #expect(
                try cluster.ask(from: pods.web1, on: cluster.node(1), proto, node2, 30080)
                    == "web2 saw \(Cluster.address(1))")
            #expect(
                try cluster.ask(from: pods.web3, on: cluster.node(3), proto, node2, 30080)
                    == "web2 saw \(Cluster.address(3))")
            #expect(try cluster.ask(fromNode: 3, proto, node2, 30080) == "web2 saw \(Cluster.address(3))")
        }
    }

    @Test("pods on one node reach each other with their own addresses")
    func samePod() throws {
        let cluster = try Self.cluster()
        let pods = try Self.pods(cluster)
        #expect(pods.web3.ip != pods.web3b.ip)
        for proto in ["tcp", "udp"] {
            #expect(
                try cluster.ask(from: pods.web3b, on: cluster.node(3), proto, pods.web3.ip)
                    == "web3 saw \(pods.web3b.ip)")
            #expect(
                try cluster.ask(from: pods.web3, on: cluster.node(3), proto, pods.web3b.ip)
                    == "web3b saw \(pods.web3.ip)")
        }
    }

    @Test("outbound traffic is masqueraded to the node's address; pod-to-pod traffic is not")
    func outbound() throws {
        let cluster = try Self.cluster()
        let pods = try Self.pods(cluster)
        try cluster.serveOutside()
        // The outside knows no route back to the pod CIDRs: only masquerading gets a reply.
        let route = try Command.run(["ip", "-n", cluster.outside!.name, "route", "get", pods.web1.ip])
        #expect(route.status != 0, "outside routes to pods: \(route)")
        for proto in ["tcp", "udp"] {
            #expect(
                try cluster.ask(from: pods.web1, on: cluster.node(1), proto, Cluster.outsideAddress)
                    == "outside saw \(Cluster.outsideGateway)")
            #expect(
                try cluster.ask(from: pods.web1, on: cluster.node(1), proto, pods.web2.ip) == "web2 saw \(pods.web1.ip)"
            )
            #expect(
                try cluster.ask(from: pods.web1, on: cluster.node(1), proto, pods.web3.ip) == "web3 saw \(pods.web1.ip)"
            )
        }
    }

    /// ping from `pod` to `target` until stopped: its log's "N packets transmitted, M received".
    static func ping(_ lab: ContainerdLab, _ pod: CRIPod, _ target: String) throws -> BackgroundProcess {
        try lab.background(pod, ["/usr/bin/ping", "-n", "-i", "0.1", "-w", "120", target], log: "ping-\(target)")
    }

    static func replies(_ process: BackgroundProcess) -> Int {
        let text = (try? String(contentsOfFile: process.log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { $0.contains(" bytes from ") }.count
    }

    static func pingCounts(_ process: BackgroundProcess) -> (sent: Int, received: Int)? {
        process.stop(signal: SIGINT)
        let text = (try? String(contentsOfFile: process.log, encoding: .utf8)) ?? ""
        guard let line = text.split(separator: "\n").first(where: { $0.contains("packets transmitted") }) else {
            return nil
        }
        let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        return numbers.count >= 2 ? (numbers[0], numbers[1]) : nil
    }

    @Test("containerd killed and restarted on node 2: traffic keeps flowing; node 2's pods tear down cleanly")
    func restartOneNode() throws {
        let cluster = try Self.cluster()
        let pods = try Self.pods(cluster)
        let node2 = cluster.node(2)
        let veth = try #require(try ContainerdCRITests.hostVeth(node2, pods.web2))
        let pings = [
            try Self.ping(cluster.node(1), pods.web1, pods.web3.ip),
            try Self.ping(cluster.node(1), pods.web1, pods.web2.ip),
        ]
        // Both answered before containerd goes, and go on for a while after it is back.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && !pings.allSatisfy({ Self.replies($0) > 0 }) { usleep(50_000) }
        let before = pings.map(Self.replies)
        try node2.restart()
        usleep(500_000)
        // Traffic across node 2 and around it, during and right after the restart.
        #expect(
            try cluster.ask(from: pods.web3, on: cluster.node(3), "tcp", pods.web2.ip) == "web2 saw \(pods.web3.ip)")
        #expect(
            try cluster.ask(from: pods.web3, on: cluster.node(3), "udp", pods.web1.ip) == "web1 saw \(pods.web3.ip)")
        for process in pings {
            let counts = Self.pingCounts(process)
            // One echo may still be in flight when ping is interrupted.
            #expect(counts.map { $0.sent >= 5 && $0.sent - $0.received <= 1 } == true, "\(process.logTail)")
        }
        #expect(before.allSatisfy { $0 > 0 }, "no ping answered before the restart: \(pings.map(\.logTail))")
        let after = try node2.pod(pods.web2.id)
        #expect(after.ip == pods.web2.ip && after.netns == pods.web2.netns)
        let state = try node2.criObject(["status", pods.web2.id])["status"] as? [String: Any]
        #expect(state?["state"] as? String == "SANDBOX_READY")
        #expect(
            try cluster.ask(from: pods.web1, on: cluster.node(1), "tcp", Cluster.address(2), 30080)
                == "web2 saw \(Cluster.address(1))")

        try cluster.delete("web2")
        try Self.expectEmpty(cluster, node: 2, removed: [pods.web2], ports: [30080])
        let links = try node2.node.ipJSON(["link", "show"]).compactMap { $0["ifname"] as? String }
        #expect(!links.contains(veth), "\(veth) left on node 2")
        // The others' pods did not notice.
        #expect(
            try cluster.ask(from: pods.web1, on: cluster.node(1), "tcp", pods.web3.ip) == "web3 saw \(pods.web1.ip)")
    }

    /// Node `n` holds no pod: no sandbox listed, no link but lo, the uplinks and the bridge, no
    /// host-local reservation, no nft rule, set or map naming a removed pod or its host ports,
    /// no pod netns or sandbox cgroup.
    static func expectEmpty(_ cluster: Cluster, node n: Int, removed: [CRIPod], ports: [Int]) throws {
        let lab = cluster.node(n)
        #expect(try ContainerdCRITests.listed(lab).isEmpty, "node \(n) still lists sandboxes")
        let links = Set(try lab.node.ipJSON(["link", "show"]).compactMap { $0["ifname"] as? String })
        let expected: Set<String> = n == 1 ? ["lo", "eth0", "out0", Cluster.bridge] : ["lo", "eth0", Cluster.bridge]
        #expect(links == expected, "node \(n) links")
        let ipam = lab.ipamDir + "/" + Cluster.network
        let held = ((try? FileManager.default.contentsOfDirectory(atPath: ipam)) ?? [])
            .filter { $0 != "lock" && !$0.hasPrefix("last_reserved_ip") && !$0.hasPrefix(".") }
        #expect(held.isEmpty, "node \(n) host-local still holds \(held)")
        let objects = try ContainerdCRITests.nftObjects(lab)
        for pod in removed {
            let left =
                ports.flatMap { ContainerdCRITests.mentions(objects, pod, port: $0) }
                + ContainerdCRITests.mentions(objects, pod, port: -1)
            #expect(left.isEmpty, "node \(n) nft still mentions \(pod.name): \(left)")
            #expect(!FileManager.default.fileExists(atPath: pod.netns), "netns file \(pod.netns) left")
            #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pids" + pod.cgroup), "cgroup \(pod.cgroup)")
        }
    }

    @Test("StopPodSandbox and RemovePodSandbox on every node leave nothing behind")
    func teardown() throws {
        let cluster = try Self.cluster()
        let pods = try Self.pods(cluster)
        let all = [(pods.web1, 1), (pods.web2, 2), (pods.web3, 3), (pods.web3b, 3)]
        // What must go is there first, so the checks after are not vacuous.
        for (pod, n) in all {
            #expect(FileManager.default.fileExists(atPath: cluster.node(n).ipamDir + "/\(Cluster.network)/" + pod.ip))
            #expect(
                !ContainerdCRITests.mentions(try ContainerdCRITests.nftObjects(cluster.node(n)), pod, port: -1).isEmpty,
                "no nft rule for \(pod.name)")
        }
        for name in ["web1", "web2", "web3", "web3b"] { try cluster.delete(name) }
        for n in 1...cluster.count {
            try Self.expectEmpty(cluster, node: n, removed: all.filter { $0.1 == n }.map { $0.0 }, ports: [30080])
        }
    }

    @Test("dual stack: pods get an address from each range and reach each other across nodes over IPv6 and IPv4")
    func dualStack() throws {
        // The IPv4 cluster is not needed any more: a second one only costs CPU.
        Self.releaseShared()
        let cluster = try Cluster(nodes: 2, dualStack: true)
        defer { cluster.tearDown() }
        for n in 1...2 {
            let text = try String(contentsOfFile: cluster.node(n).renderedConflist, encoding: .utf8)
            #expect(text.contains(Cluster.podCIDR(n)) && text.contains(Cluster.podCIDR6(n)), "node \(n): \(text)")
            #expect(text.contains(#"{"dst":"0.0.0.0/0"},{"dst":"::/0"}"#), "node \(n) routes: \(text)")
        }
        let a = try cluster.standingPod("a", node: 1), b = try cluster.standingPod("b", node: 2)
        for (pod, n) in [(a, 1), (b, 2)] {
            let v6 = pod.additionalIPs.first ?? ""
            #expect(Self.inCIDR(pod.ip, node: n) && v6.hasPrefix("fd00:10:244:\(n)::"), "\(pod)")
        }
        let a6 = a.additionalIPs.first ?? "", b6 = b.additionalIPs.first ?? ""
        for proto in ["tcp", "udp"] {
            #expect(try cluster.ask(from: a, on: cluster.node(1), proto, b6) == "b saw \(a6)")
            #expect(try cluster.ask(from: b, on: cluster.node(2), proto, a6) == "a saw \(b6)")
            #expect(try cluster.ask(from: a, on: cluster.node(1), proto, b.ip) == "b saw \(a.ip)")
            #expect(try cluster.ask(fromNode: 2, proto, a6) == "a saw \(Cluster.address6(2))")
        }
        for name in ["a", "b"] { try cluster.delete(name) }
        for n in 1...2 { #expect(try ContainerdCRITests.listed(cluster.node(n)).isEmpty) }
    }
}
