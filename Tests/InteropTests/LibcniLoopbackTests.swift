import Foundation
import Testing
import TestSupport

/// loopback driven by libcni, the library containerd, CRI-O and podman are built on.
@Suite(
    "libcni drives loopback",
    .enabled(if: LibcniDriver.unavailableReason == nil, Comment(rawValue: LibcniDriver.unavailableReason ?? "")))
struct LibcniLoopbackTests {
    static let versions = ["0.3.1", "0.4.0", "1.0.0"]

    @Test("R66: add, check and del through libcni; the result cache appears and goes", arguments: versions)
    func lifecycle(version: String) throws {
        let node = try TestNamespace("node")
        let pod = try TestNamespace("pod")
        let confDir = try TestEnvironment.scratchDirectory("conf")
        let cacheDir = try TestEnvironment.scratchDirectory("cache")
        defer {
            try? pod.remove(); try? node.remove()
            try? FileManager.default.removeItem(atPath: confDir); try? FileManager.default.removeItem(atPath: cacheDir)
        }
        let conflist = #"{"cniVersion":"\#(version)","name":"cnit-lo","plugins":[{"type":"loopback"}]}"#
        try conflist.write(toFile: confDir + "/10-lo.conflist", atomically: true, encoding: .utf8)

        let added = try LibcniDriver.run(
            "add", network: "cnit-lo", netns: pod.path, confDir: confDir, cacheDir: cacheDir, node: node,
            extra: ["CNI_IFNAME": "lo", "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=p"])
        #expect(added.status == 0, "\(added)")
        let result = try added.object()
        #expect(result["cniVersion"] as? String == version)
        #expect((result["ips"] as? [[String: Any]])?.count == 2)
        let flags = try pod.ipJSON(["link", "show", "lo"]).first?["flags"] as? [String] ?? []
        #expect(flags.contains("UP"))
        let cacheFile = cacheDir + "/results/cnit-lo-cnit-interop-lo"
        #expect(FileManager.default.fileExists(atPath: cacheFile))

        let checked = try LibcniDriver.run(
            "check", network: "cnit-lo", netns: pod.path, confDir: confDir, cacheDir: cacheDir, node: node,
            extra: ["CNI_IFNAME": "lo"])
        if version == "0.3.1" {
            #expect(checked.status != 0, "libcni refuses CHECK below 0.4.0")
        } else {
            #expect(checked.status == 0, "\(checked)")
        }

        let deleted = try LibcniDriver.run(
            "del", network: "cnit-lo", netns: pod.path, confDir: confDir, cacheDir: cacheDir, node: node,
            extra: ["CNI_IFNAME": "lo"])
        #expect(deleted.status == 0, "\(deleted)")
        #expect(!FileManager.default.fileExists(atPath: cacheFile))
        let after = try pod.ipJSON(["link", "show", "lo"]).first?["flags"] as? [String] ?? []
        #expect(!after.contains("UP"))
    }

    @Test("libcni validates the installed binaries' VERSION answers against the conflist")
    func validate() throws {
        let node = try TestNamespace("node")
        let confDir = try TestEnvironment.scratchDirectory("conf")
        defer { try? node.remove(); try? FileManager.default.removeItem(atPath: confDir) }
        let example = TestEnvironment.repositoryRoot.appendingPathComponent("Plugins-Config-Examples/loopback.conflist")
            .path
        try FileManager.default.copyItem(atPath: example, toPath: confDir + "/loopback.conflist")
        let validated = try LibcniDriver.run(
            "validate", network: "cni-loopback", netns: "", confDir: confDir, cacheDir: confDir, node: node)
        #expect(validated.status == 0, "\(validated)")
    }

    @Test("The example conflist works end to end through libcni")
    func example() throws {
        let node = try TestNamespace("node")
        let pod = try TestNamespace("pod")
        let confDir = try TestEnvironment.scratchDirectory("conf")
        defer { try? pod.remove(); try? node.remove(); try? FileManager.default.removeItem(atPath: confDir) }
        let example = TestEnvironment.repositoryRoot.appendingPathComponent("Plugins-Config-Examples/loopback.conflist")
            .path
        try FileManager.default.copyItem(atPath: example, toPath: confDir + "/loopback.conflist")
        for command in ["add", "check", "del"] {
            let result = try LibcniDriver.run(
                command, network: "cni-loopback", netns: pod.path, confDir: confDir, cacheDir: confDir, node: node)
            #expect(result.status == 0, "\(command): \(result)")
        }
    }
}
