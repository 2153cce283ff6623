import Foundation
import Testing
import TestSupport

/// Crash safety: host-local killed at arbitrary moments of ADD never leaves an empty or
/// partial reservation file (the reference can, plugins#498).
@Suite("host-local crash safety")
struct HostLocalCrashTests {
    @Test("SIGKILL at random points of 150 ADDs leaves only complete reservation files")
    func killedMidway() throws {
        let dir = try TestEnvironment.scratchDirectory("hlk")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config =
            #"{"cniVersion":"1.0.0","name":"crashnet","type":"bridge","ipam":{"type":"host-local","subnet":"10.73.0.0/16","dataDir":"\#(dir)"}}"#
        let input = dir + "/stdin"
        try config.write(toFile: input, atomically: true, encoding: .utf8)
        var generator = SystemRandomNumberGenerator()
        for i in 0..<150 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: TestEnvironment.plugin("host-local"))
            process.environment = [
                "CNI_COMMAND": "ADD", "CNI_CONTAINERID": "crash\(i)", "CNI_NETNS": "/run/netns/none",
                "CNI_IFNAME": "eth0", "CNI_PATH": TestEnvironment.pluginDirectory,
            ]
            process.standardInput = FileHandle(forReadingAtPath: input)
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            usleep(UInt32.random(in: 0...4000, using: &generator))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/crashnet").filter {
            $0.first?.isNumber == true
        }
        for name in names {
            let content = try String(contentsOfFile: dir + "/crashnet/" + name, encoding: .utf8)
            #expect(
                content.hasPrefix("crash") && content.hasSuffix("\r\neth0"), "\(name) holds \(content.debugDescription)"
            )
        }
        // Survivors are still usable: a later ADD and DEL work on the same state.
        var add = PluginInvocation(plugin: "host-local", command: "ADD")
        add.containerID = "after"
        add.netns = "/run/netns/none"
        #expect(try add.run(stdin: config).status == 0)
        add.command = "DEL"
        #expect(try add.run(stdin: config).status == 0)
        // The runs after the kills swept every temporary the killed ones left.
        let cache = try FileManager.default.contentsOfDirectory(atPath: dir + "/crashnet/.swift-cni")
        #expect(cache.sorted() == ["index"], "\(cache)")
        #expect(
            try !FileManager.default.contentsOfDirectory(atPath: dir + "/crashnet").contains {
                $0.hasPrefix(".swift-cni-")
            })
    }
}
