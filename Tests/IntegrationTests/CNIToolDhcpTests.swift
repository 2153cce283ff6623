import Foundation
import Testing
import TestSupport

/// `cni doctor` and the dhcp daemon: a lease kept for an attachment that is gone is found, and
/// `--fix` releases it through the daemon.
@Suite(
    "cni doctor and the dhcp daemon's leases",
    .enabled(
        if: TestEnvironment.isRoot && FileManager.default.fileExists(atPath: "/bin/busybox"),
        "needs root and busybox (udhcpd)"))
struct CNIToolDhcpTests {
    @Test("A lease whose attachment is not cached is a leak; --fix releases it through the daemon")
    func lease() throws {
        let lab = try DhcpLab("dhd")
        defer { lab.tearDown() }
        let pod = try lab.node.pod()
        let added = try lab.node.run("bridge", "ADD", config: lab.config(), id: "ghost", pod: pod)
        #expect(added.status == 0, "\(added)")
        let leases = {
            (try? FileManager.default.contentsOfDirectory(atPath: lab.stateDir))?.filter { $0.hasPrefix("lease-") }
                ?? []
        }
        #expect(leases().count == 1)
        let conf = lab.node.dataDir + "/net.d", cache = lab.node.dataDir + "/cache"
        try FileManager.default.createDirectory(atPath: conf, withIntermediateDirectories: true)
        try lab.config().write(toFile: conf + "/dhnet.conf", atomically: true, encoding: .utf8)
        let environment = [
            "NETCONFPATH": conf, "CNI_CACHE_DIR": cache, "CNI_DHCP_STATEDIR": lab.stateDir,
            "CNI_PATH": TestEnvironment.pluginDirectory, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        ]
        let doctor = { (args: [String]) in
            try lab.node.ns.run([TestEnvironment.cniTool, "doctor"] + args, environment: environment)
        }
        let found = try doctor([])
        #expect(found.status == 1 && found.stdout.contains("dhcp lease of dhnet ghost eth0"), "\(found)")
        #expect(!found.stdout.contains("cnitdhv0"), "the server's port is not a pod's")
        let fixed = try doctor(["--fix"])
        #expect(fixed.status == 1 && !fixed.stdout.contains("not removed"), "\(fixed)")
        #expect(leases().isEmpty, "the daemon released it and dropped its file")
        #expect(try !doctor([]).stdout.contains("dhcp lease"))
    }
}
