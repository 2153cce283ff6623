import Foundation
import Testing
import TestSupport

/// tuning's backup files under attack: the reference (and once ours) wrote through a symlink
/// planted where the backup goes.
@Suite(
    "tuning backups: never written through a planted symlink, root-only",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct TuningBackupSafetyTests {
    @Test("A symlink planted at the backup path is replaced, its target untouched; the backup is 0600")
    func plantedBackup() throws {
        let node = try Node("tbs")
        defer { node.tearDown() }
        let pod = try node.pod()
        let bridge =
            #"{"cniVersion":"1.0.0","name":"tbs","type":"bridge","bridge":"cnitbr5","ipam":{"type":"host-local","subnet":"10.63.0.0/24","dataDir":"\#(node.dataDir)"}}"#
        let added = try node.run("bridge", "ADD", config: bridge, id: "ctr1", pod: pod)
        #expect(added.status == 0, "\(added)")
        let dataDir = node.dataDir + "/tuning"
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let target = node.dataDir + "/precious"
        try "precious\n".write(toFile: target, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dataDir + "/ctr1_eth0.json", withDestinationPath: target)
        let conf =
            #"{"cniVersion":"1.0.0","name":"tbs","type":"tuning","dataDir":"\#(dataDir)","mtu":1280,"prevResult":\#(added.stdout)}"#
        let tuned = try node.run("tuning", "ADD", config: conf, id: "ctr1", pod: pod)
        #expect(tuned.status == 0, "\(tuned)")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "precious\n")
        let attributes = try FileManager.default.attributesOfItem(atPath: dataDir + "/ctr1_eth0.json")
        #expect(attributes[.type] as? FileAttributeType == .typeRegular)
        #expect(attributes[.posixPermissions] as? Int == 0o600)
        #expect(try node.run("tuning", "DEL", config: conf, id: "ctr1", pod: pod).status == 0)
        #expect(
            try pod.ipJSON(["link", "show", "eth0"]).first?["mtu"] as? Int == 1500, "restored from the real backup")
        #expect(!FileManager.default.fileExists(atPath: dataDir + "/ctr1_eth0.json"))
    }

    @Test("A repeated ADD that fails keeps the live attachment's backup, so DEL still restores the originals")
    func repeatedAddKeepsBackup() throws {
        let node = try Node("tbr")
        defer { node.tearDown() }
        let pod = try node.pod()
        let bridge =
            #"{"cniVersion":"1.0.0","name":"tbr","type":"bridge","bridge":"cnitbr5","ipam":{"type":"host-local","subnet":"10.63.0.0/24","dataDir":"\#(node.dataDir)"}}"#
        let added = try node.run("bridge", "ADD", config: bridge, id: "ctr1", pod: pod)
        let original = try pod.ipJSON(["link", "show", "eth0"]).first?["address"] as? String
        func tuning(_ mtu: Int) -> String {
            #"{"cniVersion":"1.0.0","name":"tbr","type":"tuning","dataDir":"\#(node.dataDir)/tuning","mac":"02:00:00:00:00:aa","mtu":\#(mtu),"prevResult":\#(added.stdout)}"#
        }
        #expect(try node.run("tuning", "ADD", config: tuning(1400), id: "ctr1", pod: pod).status == 0)
        let failed = try node.run("tuning", "ADD", config: tuning(70000), id: "ctr1", pod: pod)
        #expect(failed.status == 1, "\(failed)")
        #expect(
            FileManager.default.fileExists(atPath: node.dataDir + "/tuning/ctr1_eth0.json"), "the live backup stays")
        #expect(try node.run("tuning", "DEL", config: tuning(1400), id: "ctr1", pod: pod).status == 0)
        let link = try pod.ipJSON(["link", "show", "eth0"]).first
        #expect(link?["mtu"] as? Int == 1500 && link?["address"] as? String == original, "\(String(describing: link))")
    }

    @Test("A symlinked data dir is refused, not written through")
    func plantedDirectory() throws {
        let node = try Node("tbd")
        defer { node.tearDown() }
        let pod = try node.pod()
        let bridge =
            #"{"cniVersion":"1.0.0","name":"tbd","type":"bridge","bridge":"cnitbr5","ipam":{"type":"host-local","subnet":"10.63.0.0/24","dataDir":"\#(node.dataDir)"}}"#
        let added = try node.run("bridge", "ADD", config: bridge, id: "ctr1", pod: pod)
        let victim = node.dataDir + "/victim"
        try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: node.dataDir + "/tuning", withDestinationPath: victim)
        let conf =
            #"{"cniVersion":"1.0.0","name":"tbd","type":"tuning","dataDir":"\#(node.dataDir)/tuning","mtu":1280,"prevResult":\#(added.stdout)}"#
        let tuned = try node.run("tuning", "ADD", config: conf, id: "ctr1", pod: pod)
        #expect(tuned.status == 1, "\(tuned)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: victim).isEmpty)
        #expect(try pod.ipJSON(["link", "show", "eth0"]).first?["mtu"] as? Int == 1500, "nothing changed")
    }
}
