import Foundation
import TestSupport

/// Our small runtime over libcni (Tests/InteropTests/driver), built once per test run in
/// GOPATH mode against Debian's golang-github-appc-cni-dev; nothing is vendored.
enum LibcniDriver {
    static let gopath = "/usr/share/gocode"

    /// Why the driver cannot be built here, or nil when it can.
    static var unavailableReason: String? {
        if !TestEnvironment.isRoot { return "needs root to create network namespaces" }
        if !FileManager.default.fileExists(atPath: gopath + "/src/github.com/containernetworking/cni/libcni") {
            return "libcni sources missing: apt-get install golang-github-appc-cni-dev"
        }
        return nil
    }

    /// The built driver binary.
    static let binary: Result<String, TestFailure> = {
        // Under .build, so repeated runs leave nothing in /tmp and reuse the Go build cache.
        let build = TestEnvironment.repositoryRoot.appendingPathComponent(".build/interop").path
        let out = build + "/cni-driver"
        let source = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/InteropTests/driver/main.go").path
        let cache = build + "/gocache"
        let result = try? Command.run(
            ["go", "build", "-o", out, source],
            environment: [
                "GO111MODULE": "off", "GOPATH": gopath, "GOCACHE": cache, "HOME": "/tmp",
                "PATH": "/usr/lib/go/bin:/usr/local/go/bin:/usr/bin:/bin",
            ])
        guard let result, result.status == 0 else {
            return .failure(TestFailure("building the libcni driver failed: \(result?.description ?? "go not found")"))
        }
        return .success(out)
    }()

    /// Runs `cni-driver <command> <network> <netns>` inside `node`.
    static func run(
        _ command: String, network: String, netns: String, confDir: String, cacheDir: String,
        node: TestNamespace, extra: [String: String] = [:]
    ) throws -> CommandResult {
        let driver = try binary.get()
        var env = [
            "NETCONFPATH": confDir, "CNI_PATH": TestEnvironment.pluginDirectory, "CNI_CACHE_DIR": cacheDir,
            "CNI_CONTAINERID": "cnit-interop", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        ]
        env.merge(extra) { $1 }
        return try node.run([driver, command, network, netns], environment: env)
    }
}
