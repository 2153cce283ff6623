import Foundation
import Testing
import TestSupport

/// State directories under attack: planted symlinks are never followed, files are root-only,
/// temporaries of killed runs are swept, GC without its list and unusable subnets are refused.
@Suite("State files: no symlink is followed, modes are root-only, GC and subnets are checked")
struct StateFileTests {
    func config(_ dataDir: String, subnet: String = "10.23.0.0/24", extra: String = "") -> String {
        #"{"cniVersion":"1.1.0","name":"sfnet","type":"bridge"\#(extra),"ipam":{"type":"host-local","dataDir":"\#(dataDir)","subnet":"\#(subnet)"}}"#
    }

    func run(_ command: String, _ stdin: String, id: String = "c1") throws -> CommandResult {
        var invocation = PluginInvocation(plugin: "host-local", command: command)
        invocation.containerID = id
        invocation.netns = command == "ADD" ? "/run/netns/cnit-unused" : ""
        if command == "GC" { invocation.containerID = ""; invocation.ifname = "" }
        return try invocation.run(stdin: stdin)
    }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }

    @Test("A symlinked .swift-cni is not written through; ADD and DEL still work from the files")
    func symlinkedCache() throws {
        let dir = try TestEnvironment.scratchDirectory("sfc")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let victim = dir + "/victim"
        try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/sfnet", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir + "/sfnet/.swift-cni", withDestinationPath: victim)
        #expect(try run("ADD", config(dir)).status == 0)
        #expect(try run("ADD", config(dir), id: "c2").status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: victim).isEmpty, "nothing written through the link")
        #expect(try run("DEL", config(dir)).status == 0)
        #expect(try run("DEL", config(dir), id: "c2").status == 0)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: dir + "/sfnet").filter { $0.first?.isNumber == true }
                .isEmpty)
    }

    @Test("A symlinked index or last_reserved_ip is replaced or refused, its target never changed")
    func symlinkedFiles() throws {
        let dir = try TestEnvironment.scratchDirectory("sff")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try run("ADD", config(dir)).status == 0)
        let cache = dir + "/sfnet/.swift-cni"
        // The target holds a valid index, so only O_NOFOLLOW stops an append through the link.
        let target = dir + "/target"
        let original = try String(contentsOfFile: cache + "/index", encoding: .utf8)
        try original.write(toFile: target, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: cache + "/index")
        try FileManager.default.createSymbolicLink(atPath: cache + "/index", withDestinationPath: target)
        for id in ["c2", "c3"] { #expect(try run("ADD", config(dir), id: id).status == 0) }
        #expect(try String(contentsOfFile: target, encoding: .utf8) == original)
        #expect(try run("DEL", config(dir), id: "c2").status == 0)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == original)
        // last_reserved_ip is rewritten in place, but never through a link.
        let last = dir + "/sfnet/last_reserved_ip.0"
        try FileManager.default.removeItem(atPath: last)
        try FileManager.default.createSymbolicLink(atPath: last, withDestinationPath: target)
        #expect(try run("ADD", config(dir), id: "c4").status == 0)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == original)
        let attributes = try FileManager.default.attributesOfItem(atPath: last)
        #expect(attributes[.type] as? FileAttributeType == .typeRegular)
    }

    @Test("FIFOs planted among the state files never block host-local; a hard-linked index is not written through")
    func fifosAndHardLinks() throws {
        let dir = try TestEnvironment.scratchDirectory("sfp")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try run("ADD", config(dir)).status == 0)
        let network = dir + "/sfnet", cache = network + "/.swift-cni"
        let victim = dir + "/victim"
        try FileManager.default.copyItem(atPath: cache + "/index", toPath: victim)
        let original = try String(contentsOfFile: victim, encoding: .utf8)
        try FileManager.default.removeItem(atPath: cache + "/index")
        try FileManager.default.linkItem(atPath: victim, toPath: cache + "/index")
        #expect(try run("ADD", config(dir), id: "c2").status == 0)
        #expect(
            try String(contentsOfFile: victim, encoding: .utf8) == original, "nothing appended through the hard link")
        for name in [network + "/10.23.0.77", network + "/last_reserved_ip.0"] {
            try? FileManager.default.removeItem(atPath: name)
            #expect(mkfifo(name, 0o600) == 0)
        }
        var invocation = PluginInvocation(plugin: "host-local", command: "ADD")
        invocation.containerID = "c3"
        invocation.netns = "/run/netns/cnit-unused"
        let result = try Command.run(
            ["timeout", "20", TestEnvironment.plugin("host-local")], environment: invocation.environment,
            stdin: config(dir))
        #expect(result.status == 0, "\(result)")
        #expect(try run("DEL", config(dir), id: "c3").status == 0)
    }

    @Test("Reservation files are 0600 and the state directories 0700")
    func modes() throws {
        let dir = try TestEnvironment.scratchDirectory("sfm")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/fresh/data"
        #expect(try run("ADD", config(data)).status == 0)
        #expect(try mode(data + "/sfnet/10.23.0.2") == 0o600)
        #expect(try mode(data + "/sfnet/lock") == 0o600)
        #expect(try mode(data + "/sfnet/.swift-cni") == 0o700)
        #expect(try mode(data + "/sfnet/.swift-cni/index") == 0o600)
        #expect(try mode(data + "/sfnet") == 0o700)
    }

    @Test("Temporaries of killed runs are swept under the lock")
    func sweep() throws {
        let dir = try TestEnvironment.scratchDirectory("sfs")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try run("ADD", config(dir)).status == 0)
        // What a run killed between create and link leaves: pid 2^22+1 is above pid_max's default.
        let cache = dir + "/sfnet/.swift-cni"
        for name in ["r.4194305.10.23.0.9", "s.4194305", "i.4194305", "l.4194305"] {
            try "x".write(toFile: cache + "/" + name, atomically: false, encoding: .utf8)
        }
        try "x".write(toFile: dir + "/sfnet/.swift-cni-l.4194305", atomically: false, encoding: .utf8)
        #expect(try run("ADD", config(dir), id: "c2").status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache).sorted() == ["index"])
        // Beside the reservations they go when the directory is listed anyway (DEL checks the
        // cache against it), so an ADD never lists thousands of reservations.
        #expect(try run("DEL", config(dir), id: "c2").status == 0)
        #expect(
            try !FileManager.default.contentsOfDirectory(atPath: dir + "/sfnet").contains {
                $0.hasPrefix(".swift-cni-")
            })
    }

    @Test("GC without cni.dev/valid-attachments is refused (code 7 naming the key); null or [] means none valid")
    func gcNeedsList() throws {
        let dir = try TestEnvironment.scratchDirectory("sfg")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try run("ADD", config(dir)).status == 0)
        let refused = try run("GC", config(dir))
        #expect(try refused.object()["code"] as? Int == 7)
        #expect("\(try refused.object())".contains("cni.dev/valid-attachments"), "\(refused)")
        #expect(FileManager.default.fileExists(atPath: dir + "/sfnet/10.23.0.2"), "nothing released")
        #expect(try run("GC", config(dir, extra: #","cni.dev/valid-attachments":null"#)).status == 0)
        #expect(!FileManager.default.fileExists(atPath: dir + "/sfnet/10.23.0.2"))
    }

    @Test(
        "Subnets that take in loopback, 'this network' or multicast space are refused",
        arguments: [
            "::/0", "0.0.0.0/0", "127.0.0.0/24", "::/64", "224.1.0.0/16", "ff02::/64", "0.0.0.0/8",
        ])
    func unusableSubnets(subnet: String) throws {
        let dir = try TestEnvironment.scratchDirectory("sfu")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try run("ADD", config(dir, subnet: subnet))
        #expect(try result.object()["code"] as? Int == 7, "\(result)")
    }
}
