import Foundation
import Testing
import TestSupport

/// The daemon's saved leases: a daemon started again takes up the leases of pods that still
/// exist and renews them, and drops those whose pod is gone. Against busybox udhcpd.
@Suite(
    "dhcp daemon restart: leases saved and taken up again",
    .enabled(
        if: TestEnvironment.isRoot && FileManager.default.fileExists(atPath: "/bin/busybox"),
        "needs root and busybox (udhcpd)"))
struct DhcpRestartTests {
    func savedLeases(_ lab: DhcpLab) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: lab.stateDir)) ?? []).filter { $0.hasPrefix("lease-") }
    }

    /// A pod with a lease, then the daemon stopped (SIGTERM, as systemd stops it).
    func addThenStop(_ lab: DhcpLab) throws -> TestNamespace {
        let pod = try lab.node.pod()
        let added = try lab.node.run("bridge", "ADD", config: lab.config(), id: "ctr1", pod: pod)
        try #require(added.status == 0, "\(added)\n\(lab.daemonLog)")
        #expect(lab.stop() == 0)
        return pod
    }

    func address(_ pod: TestNamespace) throws -> String? {
        let info = try pod.ipJSON(["-4", "addr", "show", "eth0"]).first?["addr_info"] as? [[String: Any]]
        return info?.first?["local"] as? String
    }

    @Test(
        "Restarted mid-lease, the daemon renews the pod's lease: past the lease time it keeps its address; DEL releases"
    )
    func restartMidLease() throws {
        let lab = try DhcpLab("dhp", lease: 6)
        defer { lab.tearDown() }
        let pod = try lab.node.pod()
        let added = try lab.node.run("bridge", "ADD", config: lab.config(), id: "ctr1", pod: pod)
        try #require(added.status == 0, "\(added)\n\(lab.daemonLog)")
        let ip = try #require(try address(pod))
        #expect(savedLeases(lab).count == 1, "the lease is on disk")
        let attrs = try FileManager.default.attributesOfItem(
            atPath: lab.stateDir + "/" + (savedLeases(lab).first ?? ""))
        #expect((attrs[.posixPermissions] as? Int) == 0o600, "root-only")

        #expect(lab.stop() == 0)
        usleep(2_000_000)
        try lab.start()
        #expect(
            eventually(3) { lab.daemonLog.contains("restored ctr1/dhnet/eth0") }, "\(lab.daemonLog)")
        #expect(eventually(5) { lab.daemonLog.contains("renewed ctr1/dhnet/eth0") }, "\(lab.daemonLog)")
        usleep(6_000_000)  // past the lease time of the first grant
        #expect(try address(pod) == ip, "the pod keeps its address")
        #expect((try pod.ipJSON(["link", "show", "eth0"]).first?["flags"] as? [String])?.contains("UP") == true)
        #expect(try ping(pod, "10.86.0.1"))
        let lease = try lab.serverLease(ip)
        #expect(lease != nil && lease?.contains("expired") == false, "\(lease ?? "no lease")\n\(lab.serverLog)")

        #expect(try lab.node.run("bridge", "DEL", config: lab.config(), id: "ctr1", pod: pod).status == 0)
        #expect(lab.daemonLog.contains("released ctr1/dhnet/eth0"), "\(lab.daemonLog)")
        #expect(savedLeases(lab).isEmpty, "a released lease leaves no file")
    }

    @Test("A saved lease whose pod is gone is dropped on start; a planted link or garbage is removed, never followed")
    func podGone() throws {
        let lab = try DhcpLab("dhq", lease: 3600)
        defer { lab.tearDown() }
        let pod = try addThenStop(lab)
        try pod.remove()
        let target = lab.node.dataDir + "/precious"
        try "keep".write(toFile: target, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(
            atPath: lab.stateDir + "/lease-00000000000000aa.json", withDestinationPath: target)
        try "{not json".write(toFile: lab.stateDir + "/lease-00000000000000bb.json", atomically: true, encoding: .utf8)

        try lab.start()
        #expect(
            eventually(3) { lab.daemonLog.contains("dropped the saved lease of ctr1/dhnet/eth0") }, "\(lab.daemonLog)")
        #expect(savedLeases(lab).isEmpty, "\(savedLeases(lab))")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "keep")
        #expect(!lab.daemonLog.contains("renewed"), "nothing is renewed for a pod that is gone")
        #expect(try lab.node.run("bridge", "DEL", config: lab.config(), id: "ctr1", pod: nil, netns: "").status == 0)
    }

    @Test("A netns path that now names another namespace (the pod gone, a new one in its place) is not renewed")
    func pathReused() throws {
        let lab = try DhcpLab("dhn", lease: 3600)
        defer { lab.tearDown() }
        let pod = try addThenStop(lab)
        try pod.remove()
        // Same path, another namespace, with an eth0 of its own.
        try Command.checked(["ip", "netns", "add", pod.name])
        try Command.checked(["ip", "-n", pod.name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"])
        try lab.start()
        #expect(
            eventually(3) { lab.daemonLog.contains("dropped the saved lease of ctr1/dhnet/eth0") }, "\(lab.daemonLog)")
        #expect(savedLeases(lab).isEmpty)
        #expect(!lab.daemonLog.contains("renewed") && !lab.daemonLog.contains("restored"))
    }
}
