import Foundation
import Testing
import TestSupport

/// Delegation to IPAM by exec, observed through a fake IPAM plugin that logs what it got.
@Suite(
    "IPAM delegation by exec (R26, R27, R48, R53, R65)",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct DelegationTests {
    /// A fake IPAM: logs command and stdin, writes to stderr, answers per `behaviour`.
    func fakeIPAM(_ dir: String, addFails: Bool = false, statusFails: Bool = false) throws {
        let script = """
            #!/bin/sh
            log=\(dir)/log
            echo "$CNI_COMMAND" >> "$log"
            cat > "\(dir)/stdin.$CNI_COMMAND"
            echo "fake-ipam says hello" >&2
            case "$CNI_COMMAND" in
              ADD) \(addFails ? #"echo '{"code":11,"msg":"pool busy"}'; exit 1"# : #"echo '{"cniVersion":"1.0.0","ips":[{"address":"10.74.0.5/24","gateway":"10.74.0.1"}]}'"#) ;;
              STATUS) \(statusFails ? #"echo '{"code":50,"msg":"no addresses left"}'; exit 1"# : "exit 0") ;;
            esac
            exit 0
            """
        try script.write(toFile: dir + "/fake-ipam", atomically: true, encoding: .utf8)
        chmod(dir + "/fake-ipam", 0o755)
    }

    func config(_ version: String = "1.0.0") -> String {
        #"{"cniVersion":"\#(version)","name":"delnet","type":"bridge","bridge":"cnitbr3","isGateway":true,"ipam":{"type":"fake-ipam"}}"#
    }

    func invocation(_ command: String, dir: String, pod: TestNamespace?) -> PluginInvocation {
        var invocation = PluginInvocation(plugin: "bridge", command: command)
        invocation.netns = pod?.path ?? ""
        invocation.path = "/nonexistent:\(dir):\(TestEnvironment.pluginDirectory)"
        if command == "GC" || command == "STATUS" { invocation.containerID = ""; invocation.ifname = "" }
        return invocation
    }

    func log(_ dir: String) -> [String] {
        ((try? String(contentsOfFile: dir + "/log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test("ADD execs the IPAM from CNI_PATH with the same stdin; its stderr reaches ours; DEL follows")
    func addAndDel() throws {
        let node = try Node("dlg")
        let dir = try TestEnvironment.scratchDirectory("fake")
        defer { node.tearDown(); try? FileManager.default.removeItem(atPath: dir) }
        try fakeIPAM(dir)
        let pod = try node.pod()
        let added = try invocation("ADD", dir: dir, pod: pod).run(stdin: config(), node: node.ns)
        #expect(added.status == 0, "\(added)")
        #expect(added.stderr.contains("fake-ipam says hello"))
        #expect(
            try String(contentsOfFile: dir + "/stdin.ADD", encoding: .utf8) == config(), "the very same stdin bytes")
        let addr = try pod.ipJSON(["addr", "show", "eth0"]).first?["addr_info"] as? [[String: Any]] ?? []
        #expect(addr.contains { $0["local"] as? String == "10.74.0.5" })
        #expect(try invocation("DEL", dir: dir, pod: pod).run(stdin: config(), node: node.ns).status == 0)
        #expect(log(dir) == ["ADD", "DEL"])
    }

    @Test("An IPAM binary that is still open for writing (ETXTBSY) is exec'd once the writer lets go")
    func textFileBusy() throws {
        let node = try Node("dlb")
        let dir = try TestEnvironment.scratchDirectory("fake")
        defer { node.tearDown(); try? FileManager.default.removeItem(atPath: dir) }
        try fakeIPAM(dir)
        let writer = open(dir + "/fake-ipam", O_WRONLY | O_CLOEXEC)
        #expect(writer >= 0)
        // The writer lets go while the plugin is waiting to retry.
        let release = Thread {
            usleep(1_500_000)
            close(writer)
        }
        release.start()
        let pod = try node.pod()
        let added = try invocation("ADD", dir: dir, pod: pod).run(stdin: config(), node: node.ns)
        #expect(added.status == 0, "\(added)")
        #expect(try invocation("DEL", dir: dir, pod: pod).run(stdin: config(), node: node.ns).status == 0)
        #expect(log(dir) == ["ADD", "DEL"])
    }

    /// Not R27 as written: like the reference, a failed IPAM ADD is not followed by IPAM DEL,
    /// since it owns nothing and a DEL would release a live attachment's reservation when the
    /// ADD was a repeat (IPAM refused the duplicate).
    @Test("A failing IPAM ADD is not followed by IPAM DEL; its error code passes through; nothing is left")
    func failingAdd() throws {
        let node = try Node("dlf")
        let dir = try TestEnvironment.scratchDirectory("fake")
        defer { node.tearDown(); try? FileManager.default.removeItem(atPath: dir) }
        try fakeIPAM(dir, addFails: true)
        let pod = try node.pod()
        let failed = try invocation("ADD", dir: dir, pod: pod).run(stdin: config(), node: node.ns)
        #expect(failed.status == 1)
        #expect(try failed.object()["code"] as? Int == 11)
        #expect(log(dir) == ["ADD"])
        #expect(try pod.ipJSON(["link", "show"]).count == 1)
        #expect(try node.links().isEmpty)
    }

    @Test("GC and STATUS are passed to IPAM; an IPAM STATUS 50 fails the bridge's STATUS")
    func gcAndStatus() throws {
        let node = try Node("dls")
        let dir = try TestEnvironment.scratchDirectory("fake")
        defer { node.tearDown(); try? FileManager.default.removeItem(atPath: dir) }
        try fakeIPAM(dir, statusFails: true)
        let gc = String(config("1.1.0").dropLast()) + #","cni.dev/valid-attachments":[]}"#
        #expect(try invocation("GC", dir: dir, pod: nil).run(stdin: gc, node: node.ns).status == 0)
        let status = try invocation("STATUS", dir: dir, pod: nil).run(stdin: config("1.1.0"), node: node.ns)
        #expect(status.status == 1)
        #expect(try status.object()["code"] as? Int == 50)
        #expect(log(dir) == ["GC", "STATUS"])
    }

    @Test("An IPAM that exits before reading its config, or writes without end, is a CNI error; nothing is left")
    func hostileIPAM() throws {
        let node = try Node("dlh")
        let dir = try TestEnvironment.scratchDirectory("fake")
        defer { node.tearDown(); try? FileManager.default.removeItem(atPath: dir) }
        let pod = try node.pod()
        let scripts = [
            "exit 3": "netplugin failed with no error message: exit status 3",
            "head -c 20000000 /dev/zero; exit 0": "wrote more than 16 MiB to stdout",
        ]
        // A config far larger than a pipe holds, so the first IPAM's early exit meets our write.
        let padded = config().replacingOccurrences(
            of: #""type":"bridge""#, with: #""type":"bridge","pad":"\#(String(repeating: "x", count: 1 << 20))""#)
        for (body, message) in scripts {
            try "#!/bin/sh\n\(body)\n".write(toFile: dir + "/fake-ipam", atomically: false, encoding: .utf8)
            chmod(dir + "/fake-ipam", 0o755)
            let added = try invocation("ADD", dir: dir, pod: pod).run(stdin: padded, node: node.ns)
            #expect(added.status == 1, "\(body): \(added.stdout.prefix(300))")
            #expect(added.stdout.contains(message) && added.stdout.count < 4096, "\(body): \(added.stdout.prefix(300))")
            #expect(try pod.ipJSON(["link", "show"]).count == 1, "only lo: the veth was rolled back")
        }
    }
}
