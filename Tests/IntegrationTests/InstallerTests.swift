import Foundation
import Testing
import TestSupport

/// `cni-plugins install`, as a cluster's DaemonSet runs it on every node.
@Suite("cni-plugins install: atomic plugin install, conflist from a template, bad input changes nothing")
struct InstallerTests {
    func install(_ arguments: [String]) throws -> CommandResult {
        try Command.run([TestEnvironment.multiCallBinary, "install"] + arguments, environment: [:])
    }

    func version(_ path: String) throws -> CommandResult {
        try Command.run([path], environment: ["CNI_COMMAND": "VERSION"])
    }

    @Test("Every plugin is installed as a hard link of one binary and answers VERSION; other files stay")
    func installs() throws {
        let dir = try TestEnvironment.scratchDirectory("ins")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let dest = dir + "/opt/cni/bin"
        try FileManager.default.createDirectory(atPath: dest, withIntermediateDirectories: true)
        try "#!/bin/sh\n".write(toFile: dest + "/win-bridge", atomically: true, encoding: .utf8)
        try "old".write(toFile: dest + "/bridge", atomically: true, encoding: .utf8)
        for _ in 0..<2 {
            let result = try install(["--dest", dest])
            #expect(result.status == 0, "\(result)")
        }
        for name in TestEnvironment.pluginNames {
            let answer = try version(dest + "/" + name)
            #expect(answer.status == 0 && answer.stdout.contains("supportedVersions"), "\(name): \(answer)")
        }
        #expect(
            try String(contentsOfFile: dest + "/win-bridge", encoding: .utf8) == "#!/bin/sh\n",
            "another suite's plugin stays"
        )
        let names = try FileManager.default.contentsOfDirectory(atPath: dest).sorted()
        #expect(
            names == (TestEnvironment.pluginNames + ["cni-plugins", "win-bridge"]).sorted(),
            "no temporaries left: \(names)")
        let inode = { (name: String) in
            try FileManager.default.attributesOfItem(atPath: dest + "/" + name)[.systemFileNumber] as? Int
        }
        #expect(try inode("bridge") == inode("cni-plugins"))
    }

    @Test("A conflist template is rendered with the node's pod CIDRs and written atomically")
    func conflist() throws {
        let dir = try TestEnvironment.scratchDirectory("inc")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let template = dir + "/10-cluster.conflist.template"
        try
            #"{"cniVersion":"1.0.0","name":"k8s","plugins":[{"type":"bridge","ipam":{"type":"host-local","subnet":"{{.PodCIDR}}","ranges":{{ .PodCIDRRanges }}}}]}"#
            .write(toFile: template, atomically: true, encoding: .utf8)
        let result = try install([
            "--dest", dir + "/bin", "--conflist", template, "--pod-cidr", "10.244.3.0/24,fd00:3::/64",
            "--conf-dir", dir + "/net.d",
        ])
        #expect(result.status == 0, "\(result)")
        let written = try String(contentsOfFile: dir + "/net.d/10-cluster.conflist", encoding: .utf8)
        let expected = #""subnet":"10.244.3.0/24","ranges":[[{"subnet":"10.244.3.0/24"}],[{"subnet":"fd00:3::/64"}]]"#
        #expect(written.contains(expected), "\(written)")
        #expect(try JSONSerialization.jsonObject(with: Data(written.utf8)) is [String: Any])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/net.d") == ["10-cluster.conflist"])
    }

    @Test(
        "Bad input is a clear error and writes nothing",
        arguments: [
            ("--pod-cidr", "10.244.3.1/24"), ("--pod-cidr", "nonsense"), ("template", "{{.Routes}}"),
            ("template", "{not json"),
            ("dest", "file"), ("conf-dir", "file"), ("--pod-cidr", ""),
        ])
    func badInput(kind: String, value: String) throws {
        let dir = try TestEnvironment.scratchDirectory("inb")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "x".write(toFile: dir + "/file", atomically: true, encoding: .utf8)
        let template = dir + "/20-x.conflist.tmpl"
        let text =
            kind == "template"
            ? #"{"name":"x","plugins":[{"type":"bridge","subnet":"\#(value)"}]"#
            : #"{"name":"x","plugins":[{"type":"bridge"}]}"#
        try (kind == "template" && value.hasPrefix("{not") ? value : text).write(
            toFile: template, atomically: true, encoding: .utf8)
        var arguments = [
            "--dest", kind == "dest" ? dir + "/file/bin" : dir + "/bin", "--conflist", template,
            "--conf-dir", kind == "conf-dir" ? dir + "/file/net.d" : dir + "/net.d",
        ]
        arguments += ["--pod-cidr", kind == "--pod-cidr" ? value : "10.244.3.0/24"]
        let result = try install(arguments)
        #expect(result.status == 1, "\(kind) \(value): \(result)")
        #expect(result.stderr.hasPrefix("cni-plugins install: "), "\(result)")
        let bin = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/bin")) ?? []
        #expect(bin.isEmpty, "nothing half-installed: \(bin)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/net.d/20-x.conflist"))
    }

    @Test("A runtime exec'ing plugins while the install replaces them never fails")
    func execDuringInstall() throws {
        let dir = try TestEnvironment.scratchDirectory("ine")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try install(["--dest", dir]).status == 0)
        let failures = Locked<[String]>([])
        let done = Locked(false)
        let runner = Thread.detachedResult { () -> Int in
            var count = 0
            while !done.value || count < 50 {
                let answer = try version(dir + "/bridge")
                if answer.status != 0 { failures.mutate { $0.append("\(answer)") } }
                count += 1
            }
            return count
        }
        for _ in 0..<15 { #expect(try install(["--dest", dir]).status == 0) }
        done.mutate { $0 = true }
        let execs = try runner.wait()
        #expect(failures.value.isEmpty, "\(failures.value.count) of \(execs) execs failed: \(failures.value.prefix(2))")
    }
}
