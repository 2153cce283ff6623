import Foundation
import Testing
import TestSupport

/// `cni run` and `cni show` on a node: podman's chain through the tool, its cache read back by
/// libcni, and libcni's cache read by the tool.
@Suite(
    "cni run and cni show",
    .enabled(if: LibcniDriver.unavailableReason == nil, Comment(rawValue: LibcniDriver.unavailableReason ?? "")))
struct CNIToolRunTests {
    struct Scratch {
        let node: TestNamespace, pod: TestNamespace
        let conf: String, cache: String, data: String, tuning: String

        /// With `tuningDir`, tuning keeps its backups in a scratch directory too.
        init(_ tag: String, tuningDir: Bool = false) throws {
            node = try TestNamespace("\(tag)n")
            pod = try TestNamespace("\(tag)p")
            conf = try TestEnvironment.scratchDirectory("\(tag)-conf")
            cache = try TestEnvironment.scratchDirectory("\(tag)-cache")
            data = try TestEnvironment.scratchDirectory("\(tag)-data")
            tuning = tuningDir ? try TestEnvironment.scratchDirectory("\(tag)-tuning") : "/run/cni/tuning"
            let tuningKey = tuningDir ? #","dataDir":"\#(tuning)""# : ""
            let conflist =
                #"{"cniVersion":"1.0.0","name":"cnit-tool","plugins":[{"type":"bridge","bridge":"cnittool0","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","subnet":"10.93.0.0/24","dataDir":"\#(data)"}},{"type":"portmap","capabilities":{"portMappings":true}},{"type":"firewall"},{"type":"tuning"\#(tuningKey)}]}"#
            try conflist.write(toFile: conf + "/10-tool.conflist", atomically: true, encoding: .utf8)
        }

        func tearDown() {
            try? pod.remove()
            try? node.remove()
            for dir in [conf, cache, data] + (tuning.hasPrefix("/run/") ? [] : [tuning]) {
                try? FileManager.default.removeItem(atPath: dir)
            }
        }

        var environment: [String: String] {
            [
                "NETCONFPATH": conf, "CNI_PATH": TestEnvironment.pluginDirectory, "CNI_CACHE_DIR": cache,
                "CAP_ARGS": #"{"portMappings":[{"hostPort":18093,"containerPort":80,"protocol":"tcp"}]}"#,
                "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            ]
        }

        func cni(_ arguments: [String], extra: [String: String] = [:]) throws -> CommandResult {
            try node.run([TestEnvironment.cniTool] + arguments, environment: environment.merging(extra) { $1 })
        }

        func show() throws -> [[String: Any]] {
            let shown = try cni(["show", "--json"])
            guard shown.status == 0 else { throw TestFailure("cni show: \(shown)") }
            return try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [[String: Any]] ?? []
        }
    }

    /// cnitool's container ID for a netns path.
    func cnitoolID(_ netns: String) throws -> String {
        let hash = try Command.checked([
            "python3", "-c", "import hashlib,sys;print(hashlib.sha512(sys.argv[1].encode()).hexdigest()[:20])", netns,
        ])
        return "cnitool-" + hash.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("run add, check and del podman's chain; libcni reads the cache the tool wrote; show sees it all")
    func chain() throws {
        let scratch = try Scratch("cnitr")
        defer { scratch.tearDown() }
        let added = try scratch.cni(["run", "add", "cnit-tool", scratch.pod.path])
        #expect(added.status == 0, "\(added)")
        let result = try added.object()
        #expect((result["ips"] as? [[String: Any]])?.first?["address"] as? String == "10.93.0.2/24")
        let id = try cnitoolID(scratch.pod.path)
        let file = scratch.cache + "/results/cnit-tool-\(id)-eth0"
        let cached =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any]
        #expect(cached?["kind"] as? String == "cniCacheV1" && cached?["containerId"] as? String == id)
        let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try scratch.cni(["run", "check", "cnit-tool", scratch.pod.path]).status == 0)
        let libcni = try LibcniDriver.run(
            "check", network: "cnit-tool", netns: scratch.pod.path, confDir: scratch.conf, cacheDir: scratch.cache,
            node: scratch.node, extra: ["CNI_CONTAINERID": id])
        #expect(libcni.status == 0, "libcni's CHECK with the cache the tool wrote: \(libcni)")

        let shown = try scratch.show()
        #expect(shown.count == 1)
        let entry = try #require(shown.first)
        #expect(entry["containerID"] as? String == id && entry["netnsPresent"] as? Bool == true)
        let interfaces = entry["interfaces"] as? [[String: Any]] ?? []
        #expect(interfaces.count == 3 && interfaces.allSatisfy { $0["present"] as? Bool == true }, "\(interfaces)")
        #expect(entry["reservations"] as? [String] == ["10.93.0.2"])
        let tables = Dictionary(
            uniqueKeysWithValues: (entry["nftables"] as? [[String: Any]] ?? []).map {
                ($0["table"] as? String ?? "", $0["entries"] as? Int ?? 0)
            })
        #expect(tables["ip cni_hostport"] == 3, "the mapping and two masquerading pairs: \(tables)")
        #expect(tables["inet cni_plugins_masquerade"] == 1 && tables["inet cni_plugins_firewall"] == 1)

        let deleted = try scratch.cni(["run", "del", "cnit-tool", scratch.pod.path])
        #expect(deleted.status == 0, "\(deleted)")
        #expect(!FileManager.default.fileExists(atPath: file))
        #expect(try scratch.show().isEmpty)
        #expect(try scratch.cni(["show"]).stdout.hasPrefix("no attachments"))
        #expect(try !scratch.node.run(["nft", "list", "ruleset"]).stdout.contains("10.93.0.2"))
    }

    @Test("show reads the cache libcni wrote, and marks what the node lost; a plugin's error comes out as it came")
    func libcniCache() throws {
        let scratch = try Scratch("cnitl")
        defer { scratch.tearDown() }
        let added = try LibcniDriver.run(
            "add", network: "cnit-tool", netns: scratch.pod.path, confDir: scratch.conf, cacheDir: scratch.cache,
            node: scratch.node, extra: ["CAP_ARGS": scratch.environment["CAP_ARGS"] ?? ""])
        #expect(added.status == 0, "\(added)")
        try Command.checked(["ip", "-n", scratch.pod.name, "link", "del", "eth0"])
        let entry = try #require(try scratch.show().first)
        #expect(entry["containerID"] as? String == "cnit-interop")
        let interfaces = entry["interfaces"] as? [[String: Any]] ?? []
        #expect(interfaces.contains { $0["sandbox"] as? String == scratch.pod.path && $0["present"] as? Bool == false })
        let broken = try scratch.cni(
            ["run", "add", "cnit-tool", scratch.pod.path], extra: ["CNI_CONTAINERID": "x", "CNI_IFNAME": "bad%d"])
        #expect(broken.status == 1)
        #expect(broken.stdout.contains("\"code\""), "the plugin's CNI error: \(broken)")
        let deleted = try scratch.cni(
            ["run", "del", "cnit-tool", scratch.pod.path], extra: ["CNI_CONTAINERID": "cnit-interop"])
        #expect(deleted.status == 0, "\(deleted)")
        #expect(try scratch.show().isEmpty)
        _ = try? scratch.node.run(["ip", "link", "del", "cnittool0"])
    }

    @Test("A plugin that refuses before reading its config: the tool still reports its CNI error, not SIGPIPE")
    func pluginExitsEarly() throws {
        let scratch = try Scratch("cnitm")
        defer { scratch.tearDown() }
        let bin = try TestEnvironment.scratchDirectory("cnitm-bin")
        defer { try? FileManager.default.removeItem(atPath: bin) }
        let refusal = #"{"cniVersion":"1.0.0","code":7,"msg":"cnit refused"}"#
        try "#!/bin/sh\necho '\(refusal)'\nexit 1\n".write(
            toFile: bin + "/cnit-mute", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin + "/cnit-mute")
        // Far more than a pipe holds, so writing the config after the plugin is gone must fail.
        let padding = String(repeating: "x", count: 1 << 20)
        let conflist =
            #"{"cniVersion":"1.0.0","name":"cnit-mute","plugins":[{"type":"cnit-mute","pad":"\#(padding)"}]}"#
        try conflist.write(toFile: scratch.conf + "/20-mute.conflist", atomically: true, encoding: .utf8)
        for _ in 0..<3 {
            let refused = try scratch.cni(
                ["run", "add", "cnit-mute", scratch.pod.path],
                extra: ["CNI_PATH": bin + ":" + TestEnvironment.pluginDirectory, "CNI_CONTAINERID": "cnit-mute"])
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.stdout.contains("cnit refused"), "\(refused)")
        }
        // A plugin killed by a signal prints nothing: the tool still answers with a CNI error.
        try "#!/bin/sh\nkill -9 $$\n".write(toFile: bin + "/cnit-killed", atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin + "/cnit-killed")
        try #"{"cniVersion":"1.0.0","name":"cnit-killed","plugins":[{"type":"cnit-killed"}]}"#.write(
            toFile: scratch.conf + "/30-killed.conflist", atomically: false, encoding: .utf8)
        let killed = try scratch.cni(
            ["run", "add", "cnit-killed", scratch.pod.path],
            extra: ["CNI_PATH": bin + ":" + TestEnvironment.pluginDirectory, "CNI_CONTAINERID": "cnit-killed"])
        #expect(killed.status == 1)
        #expect(killed.stdout.contains("netplugin failed with no error message: exit status 137"), "\(killed)")
    }

    @Test("cni started as the release helper holds nothing and exits 0 without a word, as the plugins do")
    func releaseHelper() throws {
        let helper = try Command.run(["bash", "-c", #"exec -a swift-cni-release "$0""#, TestEnvironment.cniTool])
        #expect(helper.status == 0 && helper.stdout.isEmpty && helper.stderr.isEmpty, "\(helper)")
    }

    @Test("--help for every verb, and usage on stderr with exit 2 for a mistake")
    func help() throws {
        let scratch = try Scratch("cnith")
        defer { scratch.tearDown() }
        for verb in [["run", "--help"], ["show", "--help"], ["--help"]] {
            let out = try scratch.cni(verb)
            #expect(out.status == 0 && out.stdout.contains("usage: cni"), "\(verb)")
        }
        let wrong = try scratch.cni(["run", "frobnicate", "x"])
        #expect(wrong.status == 2 && wrong.stdout.isEmpty)
    }
}
