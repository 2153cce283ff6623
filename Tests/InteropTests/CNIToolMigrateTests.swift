import Foundation
import Testing
import TestSupport

/// `cni migrate`: pods made by the Go reference plugins (iptables-nft here) move to our
/// nftables state while traffic flows through a mapped port; DEL by ours then leaves nothing.
@Suite(
    "cni migrate",
    .enabled(if: LibcniDriver.unavailableReason == nil, Comment(rawValue: LibcniDriver.unavailableReason ?? "")),
    .enabled(
        if: FileManager.default.fileExists(atPath: TestEnvironment.referenceDirectory + "/portmap"),
        "needs the Go reference plugins (containernetworking-plugins)"))
struct CNIToolMigrateTests {
    @Test("The reference's chains and rules go, ours come first; every connection during the move is served")
    func fromReference() throws {
        let scratch = try CNIToolRunTests.Scratch("cnitm")
        defer { scratch.tearDown() }
        let reference = [
            "CNI_PATH": TestEnvironment.referenceDirectory, "CAP_ARGS": scratch.environment["CAP_ARGS"] ?? "",
        ]
        let added = try LibcniDriver.run(
            "add", network: "cnit-tool", netns: scratch.pod.path, confDir: scratch.conf, cacheDir: scratch.cache,
            node: scratch.node, extra: reference)
        #expect(added.status == 0, "\(added)")
        let iptables = { try scratch.node.run(["iptables-save"]).stdout }
        #expect(try iptables().contains("CNI-DN-"), "the reference's portmap chain")

        let plan = try scratch.cni(["migrate", "--dry-run"])
        #expect(plan.status == 0 && plan.stdout.contains("ip nat chain CNI-DN-"), "\(plan)")
        #expect(try iptables().contains("CNI-DN-"), "a dry run changes nothing")

        // A server answering every connection, and a client connecting through the mapped port
        // all through the migration.
        let pod = scratch.pod, node = scratch.node
        let server = Thread.detachedResult {
            try pod.run([
                "python3", "-c",
                "import socket\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('0.0.0.0',80));s.listen(64);s.settimeout(8)\ntry:\n    while True:\n        c,a=s.accept();c.send(b'ok');c.close()\nexcept OSError: pass",
            ])
        }
        usleep(300_000)
        let client = Thread.detachedResult {
            try node.run([
                "python3", "-c",
                "import socket,time\nbad=0\nfor _ in range(40):\n    try:\n        s=socket.create_connection(('10.93.0.1',18093),1);bad+=s.recv(8)!=b'ok';s.close()\n    except OSError: bad+=1\n    time.sleep(0.05)\nprint(bad)",
            ])
        }
        usleep(500_000)
        let migrated = try scratch.cni(["migrate"])
        #expect(migrated.status == 0 && migrated.stdout.contains("migrated 1 of 1"), "\(migrated)")
        #expect(try client.wait().stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "no connection lost")
        _ = try server.wait()

        let after = try iptables()
        #expect(!after.contains("CNI-DN-") && !after.contains("10.93.0.2"), "the reference's per-pod rules: \(after)")
        #expect(try scratch.node.run(["nft", "list", "ruleset"]).stdout.contains(": 10.93.0.2 . 80"), "ours")
        let deleted = try LibcniDriver.run(
            "del", network: "cnit-tool", netns: scratch.pod.path, confDir: scratch.conf, cacheDir: scratch.cache,
            node: scratch.node, extra: ["CAP_ARGS": reference["CAP_ARGS"] ?? ""])
        #expect(deleted.status == 0, "DEL by ours: \(deleted)")
        #expect(
            try !scratch.node.run(["nft", "list", "ruleset"]).stdout.contains("10.93.0.2"), "nothing of the pod left")
        #expect(try !iptables().contains("10.93.0.2"))
    }
}
