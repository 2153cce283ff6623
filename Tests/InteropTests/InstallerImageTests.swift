import Foundation
import Testing
import TestSupport

/// The installer image (Scripts/Containerfile, FROM scratch) built with podman and run the way
/// the DaemonSet's init container runs it, against host directories. Part of the podman suite,
/// which runs serialized.
extension PodmanTests {
    /// The static release binary, which alone can run in a scratch image; nil with the reason.
    static var staticBinary: (path: String?, reason: String) {
        let path = TestEnvironment.pluginDirectory + "/cni-plugins"
        guard FileManager.default.fileExists(atPath: path) else {
            return (
                nil,
                "no installed cni-plugins in \(TestEnvironment.pluginDirectory): run Scripts/test.sh (the release build)"
            )
        }
        let ldd = (try? Command.run(["ldd", path])).map { $0.stdout + $0.stderr } ?? ""
        return ldd.contains("not a dynamic executable")
            ? (path, "") : (nil, "\(path) is not static: run Scripts/test.sh")
    }

    @Test(
        "The FROM-scratch image installs the plugins and a conflist into host directories",
        .enabled(if: PodmanTests.staticBinary.path != nil, Comment(rawValue: PodmanTests.staticBinary.reason)))
    func installerImage() throws {
        let binary = try #require(Self.staticBinary.path)
        let instance = try Instance(
            network: "cnitimg", conflist: #"{"cniVersion":"1.0.0","name":"cnitimg","plugins":[{"type":"loopback"}]}"#)
        defer { instance.tearDown() }
        let context = instance.dir + "/context", host = instance.dir + "/host"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: host + "/opt/cni/bin", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: host + "/etc/cni/net.d", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: binary, toPath: context + "/cni-plugins")
        let examples = TestEnvironment.repositoryRoot.appendingPathComponent("Plugins-Config-Examples/kubernetes").path
        try FileManager.default.copyItem(
            atPath: examples + "/10-swift-cni.conflist.template", toPath: context + "/10-swift-cni.conflist.template")
        let containerfile = TestEnvironment.repositoryRoot.appendingPathComponent("Scripts/Containerfile").path
        let built = try instance.podman(["build", "-f", containerfile, "-t", "localhost/cnit-swift-cni:test", context])
        #expect(built.status == 0, "\(built)")
        // The init container's command from the DaemonSet, with the conflist variant enabled.
        let ran = try instance.podman([
            "run", "--rm", "--network", "none",
            "-v", host + "/opt/cni/bin:/host/opt/cni/bin", "-v", host + "/etc/cni/net.d:/host/etc/cni/net.d",
            "localhost/cnit-swift-cni:test", "install", "--dest", "/host/opt/cni/bin",
            "--conflist", "/etc/swift-cni/10-swift-cni.conflist.template", "--pod-cidr", "10.244.7.0/24",
            "--conf-dir", "/host/etc/cni/net.d",
        ])
        #expect(ran.status == 0, "\(ran)")
        for name in TestEnvironment.pluginNames {
            let answer = try Command.run([host + "/opt/cni/bin/" + name], environment: ["CNI_COMMAND": "VERSION"])
            #expect(answer.status == 0 && answer.stdout.contains("supportedVersions"), "\(name): \(answer)")
        }
        let conflist = try String(contentsOfFile: host + "/etc/cni/net.d/10-swift-cni.conflist", encoding: .utf8)
        #expect(conflist.contains(#"[[{"subnet":"10.244.7.0/24"}]]"#), "\(conflist)")
        // The long-running container stops promptly on SIGTERM although it is PID 1.
        let started = try instance.podman([
            "run", "-d", "--name", "keep", "--network", "none", "localhost/cnit-swift-cni:test", "pause",
        ])
        #expect(started.status == 0, "\(started)")
        let stopped = try instance.podman(["stop", "-t", "5", "keep"])
        #expect(stopped.status == 0 && !stopped.stderr.contains("SIGKILL"), "\(stopped)")
    }
}
