import Foundation
import Testing
import TestSupport

/// containerd's CRI plugin as a client of our plugins, driven over CRI v1 gRPC with the calls
/// kubelet makes (cri/cri_client.py). Each test starts its own containerd inside a fresh node
/// netns (ContainerdLab) and checks the kernel state the pods get and lose.
// Serialized: each test runs its own containerd; several at once would only compete for CPU.
@Suite(
    "containerd CRI runs pods on our plugins", .serialized,
    .enabled(
        if: ContainerdLab.unavailableReason == nil,
        Comment(rawValue: ContainerdLab.unavailableReason ?? "")))
struct ContainerdCRITests {
    static let subnet = "10.73.0.0/24", gateway = "10.73.0.1", network = "cnitcri"

    /// The chain a kubeadm-style node uses: bridge with host-local, then hostPorts and traffic
    /// shaping from the runtime's capabilities (containerd adds loopback itself).
    static func conflist(version: String, ipam: String, firewall: Bool = false) -> String {
        let bridge =
            #"{"type":"bridge","bridge":"cnitcri0","isGateway":true,"ipMasq":true,"hairpinMode":true,"#
            + #""ipam":{"type":"host-local","ranges":[[{"subnet":"\#(subnet)"}]],"routes":[{"dst":"0.0.0.0/0"}],"#
            + #""dataDir":"\#(ipam)"}}"#
        let plugins =
            [bridge, #"{"type":"portmap","capabilities":{"portMappings":true}}"#]
            + (firewall ? [#"{"type":"firewall"}"#] : [])
            + [#"{"type":"bandwidth","capabilities":{"bandwidth":true}}"#]
        return #"{"cniVersion":"\#(version)","name":"\#(network)","plugins":[\#(plugins.joined(separator: ","))]}"#
    }

    static func lab(version: String = "1.0.0", firewall: Bool = false) throws -> ContainerdLab {
        let lab = try ContainerdLab(podCIDR: subnet) { conflist(version: version, ipam: $0, firewall: firewall) }
        do { try lab.start() } catch { lab.tearDown(); throw error }
        return lab
    }

    /// A TCP client with retries (servers and DNAT rules need a moment): prints the HTTP reply.
    static let fetch = """
        import socket, sys, time
        last = ""
        for _ in range(50):
            try:
                s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 1)
                s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n"); print(s.makefile("rb").read().decode()); sys.exit(0)
            except OSError as e:
                last = str(e); time.sleep(0.1)
        print(last); sys.exit(1)
        """

    static func fetchFromNode(_ lab: ContainerdLab, _ host: String, _ port: Int) throws -> String {
        try lab.node.run(["/usr/bin/python3", "-c", fetch, host, "\(port)"]).stdout
    }

    static func fetchFromPod(_ lab: ContainerdLab, _ pod: CRIPod, _ host: String, _ port: Int) throws -> String {
        try lab.inPod(pod, ["/usr/bin/python3", "-c", fetch, host, "\(port)"]).stdout
    }

    /// The pod's veth peer in the node netns, found from the kernel (eth0's link index), not
    /// from the plugin's result.
    static func hostVeth(_ lab: ContainerdLab, _ pod: CRIPod) throws -> String? {
        let out = try lab.inPod(pod, ["ip", "-j", "link", "show", "eth0"]).stdout
        let eth0 = (try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])?.first
        guard let peer = eth0?["link_index"] as? Int else { return nil }
        return try lab.node.ipJSON(["link", "show"]).first { $0["ifindex"] as? Int == peer }?["ifname"] as? String
    }

    static func qdiscs(_ lab: ContainerdLab, _ dev: String) throws -> [[String: Any]] {
        let out = try lab.node.run(["tc", "-j", "qdisc", "show", "dev", dev]).stdout
        return (try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]]) ?? []
    }

    /// One rule, set or map of the node's `nft -j list ruleset`, with every scalar in it but
    /// counters: what it mentions.
    struct NftObject {
        let table: String, chain: String, scalars: [String]
    }

    static func nftObjects(_ lab: ContainerdLab) throws -> [NftObject] {
        func walk(_ json: Any) -> [String] {
            switch json {
            case let object as [String: Any]:
                return object.flatMap { $0.key == "packets" || $0.key == "bytes" ? [] : walk($0.value) }
            case let list as [Any]: return list.flatMap(walk)
            case let string as String: return [string]
            case let number as NSNumber: return ["\(number)"]
            default: return []
            }
        }
        let out = try Command.checked(["ip", "netns", "exec", lab.node.name, "nft", "-j", "list", "ruleset"])
        let list = (try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])?["nftables"] as? [Any]
        return (list ?? []).compactMap { entry in
            guard let (kind, value) = (entry as? [String: Any])?.first, ["rule", "set", "map"].contains(kind),
                let body = value as? [String: Any]
            else { return nil }
            return NftObject(
                table: body["table"] as? String ?? "", chain: body["chain"] as? String ?? "",
                scalars: walk(body))
        }
    }

    /// The rules, sets and maps that name the pod's address, its ID or the host port.
    static func mentions(_ objects: [NftObject], _ pod: CRIPod, port: Int) -> [NftObject] {
        objects.filter { object in
            object.scalars.contains {
                $0 == pod.ip || $0.hasPrefix(pod.ip + "/") || $0.contains(pod.id) || $0 == "\(port)"
            }
        }
    }

    /// What StopPodSandbox must have released: the reservation, the veth and IFB, every nft rule
    /// or element for the pod, the host port, the netns and the sandbox cgroup.
    static func expectReleased(_ lab: ContainerdLab, _ pod: CRIPod, veth: String?, port: Int) throws {
        let reservation = lab.ipamDir + "/\(network)/" + pod.ip
        #expect(!FileManager.default.fileExists(atPath: reservation), "host-local still holds \(pod.ip)")
        let links = try lab.node.ipJSON(["link", "show"]).compactMap { $0["ifname"] as? String }
        if let veth { #expect(!links.contains(veth), "\(veth) left: \(links)") }
        #expect(!links.contains { $0.hasPrefix("bwp") }, "IFB left: \(links)")
        let left = mentions(try nftObjects(lab), pod, port: port)
        #expect(left.isEmpty, "nft still mentions the pod: \(left)")
        let probe = """
            import socket
            s = socket.socket(); s.bind(("0.0.0.0", \(port))); s.close()
            c = socket.socket(); c.settimeout(2)
            print("refused" if c.connect_ex(("127.0.0.1", \(port))) != 0 else "connected")
            """
        let probed = try lab.node.run(["/usr/bin/python3", "-c", probe])
        #expect(probed.status == 0 && probed.stdout.contains("refused"), "host port still in use: \(probed)")
        #expect(!FileManager.default.fileExists(atPath: pod.netns), "netns file \(pod.netns) left")
        let mounts = try Command.run(["nsenter", "--mount=" + lab.mountNamespace, "cat", "/proc/self/mountinfo"])
        #expect(!mounts.stdout.contains(URL(fileURLWithPath: pod.netns).lastPathComponent), "netns still mounted")
        let cgroup = "/sys/fs/cgroup/pids" + pod.cgroup
        #expect(!FileManager.default.fileExists(atPath: cgroup), "cgroup \(cgroup) left")
    }

    static func stopAndRemove(_ lab: ContainerdLab, _ pod: CRIPod, veth: String?, port: Int = 30080) throws {
        _ = try lab.criObject(["stop", pod.id])
        let stopped = try lab.criObject(["status", pod.id])["status"] as? [String: Any]
        #expect(stopped?["state"] as? String == "SANDBOX_NOTREADY")
        try expectReleased(lab, pod, veth: veth, port: port)
        // kubelet stops more than once; the second must succeed and change nothing.
        _ = try lab.criObject(["stop", pod.id])
        _ = try lab.criObject(["remove", pod.id])
        #expect(try !listed(lab).contains(pod.id))
        #expect(try lab.cri(["status", pod.id]).stderr.contains("NOT_FOUND"))
    }

    /// ListPodSandbox: the IDs of every sandbox, ready or not.
    static func listed(_ lab: ContainerdLab) throws -> [String] {
        (try lab.criObject(["list"])["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
    }

    static func inSubnet(_ ip: String) -> Bool { ip.hasPrefix("10.73.0.") && ip != gateway }

    /// Address, lo and eth0 up, tbf on the veth and IFB, ping, the host port from the node at
    /// 127.0.0.1 and at the bridge address, and hairpin from the pod itself.
    @Test("hostPort 30080->80 with bandwidth annotations: shaped, reachable, hairpin", arguments: ["1M", "10M", "1G"])
    func hostPortAndBandwidth(rate: String) throws {
        let lab = try Self.lab()
        defer { lab.tearDown() }
        let pod = try lab.runPod("web", ports: ["30080:80"], ingress: rate, egress: rate)
        #expect(Self.inSubnet(pod.ip), "pod IP \(pod.ip)")
        let status = try lab.criObject(["status", pod.id])["status"] as? [String: Any]
        #expect(status?["state"] as? String == "SANDBOX_READY")
        #expect((status?["annotations"] as? [String: String])?["kubernetes.io/ingress-bandwidth"] == rate)

        let addrs = try lab.inPod(pod, ["ip", "-j", "addr", "show"])
        let links = (try? JSONSerialization.jsonObject(with: Data(addrs.stdout.utf8)) as? [[String: Any]]) ?? []
        for name in ["lo", "eth0"] {
            let flags = links.first { $0["ifname"] as? String == name }?["flags"] as? [String] ?? []
            #expect(flags.contains("UP"), "\(name) in the pod: \(flags)")
        }
        #expect(addrs.stdout.contains("\"\(pod.ip)\""), "\(addrs)")

        // Rates arrive as bits/s from the annotations; tc reports bytes/s.
        let bytes = ["1M": 125_000, "10M": 1_250_000, "1G": 125_000_000][rate]!
        let veth = try #require(try Self.hostVeth(lab, pod))
        let onVeth = try Self.qdiscs(lab, veth)
        let tbf = onVeth.first { $0["kind"] as? String == "tbf" }
        #expect((tbf?["options"] as? [String: Any])?["rate"] as? Int == bytes, "qdiscs on \(veth): \(onVeth)")
        #expect(onVeth.contains { $0["kind"] as? String == "ingress" }, "no ingress qdisc for egress shaping")
        let names = try lab.node.ipJSON(["link", "show"]).compactMap { $0["ifname"] as? String }
        let ifb = names.first { $0.hasPrefix("bwp") }
        let onIfb = try Self.qdiscs(lab, try #require(ifb))
        #expect(onIfb.contains { ($0["options"] as? [String: Any])?["rate"] as? Int == bytes }, "\(onIfb)")

        let ping = try lab.node.run(["ping", "-c", "1", "-W", "2", pod.ip])
        #expect(ping.status == 0, "\(ping)")
        let server = try lab.serve(pod)
        defer { server.stop() }
        #expect(try Self.fetchFromNode(lab, "127.0.0.1", 30080).contains("served by web"))
        #expect(try Self.fetchFromNode(lab, Self.gateway, 30080).contains("served by web"))
        #expect(try Self.fetchFromPod(lab, pod, Self.gateway, 30080).contains("served by web"), "hairpin")
    }

    @Test("a second pod gets another address and the two talk to each other")
    func twoPods() throws {
        let lab = try Self.lab()
        defer { lab.tearDown() }
        let first = try lab.runPod("one"), second = try lab.runPod("two")
        #expect(Self.inSubnet(first.ip) && Self.inSubnet(second.ip), "\(first.ip) \(second.ip)")
        #expect(first.ip != second.ip)
        let servers = [try lab.serve(first), try lab.serve(second)]
        defer { servers.forEach { $0.stop() } }
        #expect(try Self.fetchFromPod(lab, first, second.ip, 80).contains("served by two"))
        #expect(try Self.fetchFromPod(lab, second, first.ip, 80).contains("served by one"))
        let ping = try lab.inPod(first, ["ping", "-c", "1", "-W", "2", second.ip])
        #expect(ping.status == 0, "\(ping)")
        servers.forEach { $0.stop() }
        for pod in [first, second] { try Self.stopAndRemove(lab, pod, veth: nil) }
        #expect(try Self.listed(lab).isEmpty)
    }

    @Test("StopPodSandbox releases the address, veth, nft rules and host port; RemovePodSandbox; list empty")
    func stopReleasesEverything() throws {
        let lab = try Self.lab()
        defer { lab.tearDown() }
        let pod = try lab.runPod("web", ports: ["30080:80"], ingress: "10M", egress: "10M")
        let veth = try #require(try Self.hostVeth(lab, pod))
        // What must go, there while the pod runs (so the checks after stop are not vacuous).
        #expect(FileManager.default.fileExists(atPath: lab.ipamDir + "/\(Self.network)/" + pod.ip))
        #expect(FileManager.default.fileExists(atPath: pod.netns), "netns \(pod.netns)")
        #expect(FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pids" + pod.cgroup), "cgroup \(pod.cgroup)")
        #expect(!Self.mentions(try Self.nftObjects(lab), pod, port: 30080).isEmpty, "no nft rule for the pod")
        let server = try lab.serve(pod)
        #expect(try Self.fetchFromNode(lab, Self.gateway, 30080).contains("served by web"))
        server.stop()
        try Self.stopAndRemove(lab, pod, veth: veth)
        #expect(try Self.listed(lab).isEmpty)
    }

    @Test("containerd killed and restarted under a running pod: the pod keeps serving; stop and remove stay clean")
    func restart() throws {
        let lab = try Self.lab()
        defer { lab.tearDown() }
        let pod = try lab.runPod("web", ports: ["30080:80"], ingress: "10M", egress: "10M")
        let veth = try #require(try Self.hostVeth(lab, pod))
        let server = try lab.serve(pod)
        defer { server.stop() }
        let shims = lab.processes().filter { $0.contains("containerd-shim") }
        #expect(shims.count == 1, "\(lab.processes())")
        try lab.restart()
        #expect(lab.processes().filter { $0.contains("containerd-shim") } == shims, "the shim must survive")
        let after = try lab.pod(pod.id)
        #expect(after.ip == pod.ip && after.netns == pod.netns)
        let state = try lab.criObject(["status", pod.id])["status"] as? [String: Any]
        #expect(state?["state"] as? String == "SANDBOX_READY")
        #expect(try Self.fetchFromNode(lab, Self.gateway, 30080).contains("served by web"))
        server.stop()
        try Self.stopAndRemove(lab, pod, veth: veth)
        #expect(try Self.listed(lab).isEmpty)
    }

    /// 0.3.1 chains with firewall in them are still common on nodes; the reference firewall
    /// refuses them (ADD and DEL alike, so the attachment leaks), ours serves them.
    @Test(
        "each cniVersion, with firewall in the chain, runs a pod and tears it down cleanly",
        arguments: ["0.3.1", "0.4.0", "1.0.0"])
    func versions(version: String) throws {
        let lab = try Self.lab(version: version, firewall: true)
        defer { lab.tearDown() }
        let pod = try lab.runPod("web", ports: ["30080:80"], ingress: "10M", egress: "10M")
        #expect(Self.inSubnet(pod.ip), "pod IP \(pod.ip)")
        // The firewall's forward rules for the pod: our nftables table (or the reference's chain).
        let firewall = Self.mentions(try Self.nftObjects(lab), pod, port: 0)
            .filter { $0.table == "cni_plugins_firewall" || $0.chain == "CNI-FORWARD" }
        #expect(!firewall.isEmpty, "no firewall rule for \(pod.ip)")
        let veth = try #require(try Self.hostVeth(lab, pod))
        let server = try lab.serve(pod)
        #expect(try Self.fetchFromNode(lab, "127.0.0.1", 30080).contains("served by web"))
        #expect(try Self.fetchFromPod(lab, pod, Self.gateway, 30080).contains("served by web"), "hairpin")
        server.stop()
        try Self.stopAndRemove(lab, pod, veth: veth)
        #expect(try Self.listed(lab).isEmpty)
    }
}
