import Foundation
import Testing
import TestSupport

/// A runtime at its worst: the same attachment added and deleted concurrently, and plugins
/// killed at random moments of ADD before the runtime's DEL.
@Suite(
    "Repeated, concurrent and killed invocations of one attachment leave nothing behind",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct HostileRuntimeTests {
    static func config(_ plugin: String, _ node: Node) -> String {
        let ipam = #""ipam":{"type":"host-local","subnet":"10.56.0.0/24","dataDir":"\#(node.dataDir)"}"#
        let extra = plugin == "bridge" ? #""bridge":"cnithrt0","isGateway":true,"macspoofchk":true,"# : ""
        return #"{"cniVersion":"1.0.0","name":"hrt","type":"\#(plugin)","ipMasq":true,\#(extra)\#(ipam)}"#
    }

    /// Nothing of attachment `id` is left: no veth, no reservation, no masquerade rule.
    func expectClean(_ node: Node, _ pod: TestNamespace, id: String, _ what: String) throws {
        let links = try node.links()
        #expect(links.allSatisfy { !$0.hasPrefix("veth") }, "\(what): \(links)")
        #expect(try pod.ipJSON(["link", "show"]).count == 1, "\(what): only lo in the pod")
        #expect(node.reservations("hrt").isEmpty, "\(what): \(node.reservations("hrt"))")
        #expect(try !node.nftRuleset().contains("id: \(id)"), "\(what): masquerade rule left")
    }

    @Test(
        "Eight concurrent ADDs of one attachment: one wins, the rest fail cleanly; eight concurrent DELs",
        arguments: ["bridge", "ptp"])
    func concurrentSameAttachment(plugin: String) throws {
        let node = try Node("hrc")
        defer { node.tearDown() }
        let pod = try node.pod()
        let conf = Self.config(plugin, node)
        let outcomes = Locked<[CommandResult]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            if let result = try? node.run(plugin, "ADD", config: conf, id: "ctrC", pod: pod) {
                outcomes.mutate { $0.append(result) }
            }
        }
        let results = outcomes.value
        #expect(results.count == 8)
        #expect(results.filter { $0.status == 0 }.count == 1, "\(results.map(\.stdout))")
        for result in results where result.status != 0 {
            HostileInputTests.expectWellFormed(result, "\(plugin) losing ADD")
        }
        #expect(node.reservations("hrt").count == 1)
        #expect(try node.links().filter { $0.hasPrefix("veth") }.count == 1)
        // Racing DELs each list rules and links another one may delete first; every one must
        // still succeed. A few rounds make the race likely.
        for round in 0..<4 {
            if round > 0 { #expect(try node.run(plugin, "ADD", config: conf, id: "ctrC", pod: pod).status == 0) }
            let deletes = Locked<[CommandResult]>([])
            DispatchQueue.concurrentPerform(iterations: 8) { _ in
                if let result = try? node.run(plugin, "DEL", config: conf, id: "ctrC", pod: pod) {
                    deletes.mutate { $0.append(result) }
                }
            }
            #expect(
                deletes.value.count == 8 && deletes.value.allSatisfy { $0.status == 0 },
                "round \(round): \(deletes.value.filter { $0.status != 0 }.map(\.stdout))")
            try expectClean(node, pod, id: "ctrC", "after concurrent DELs, round \(round)")
        }
    }

    @Test("SIGKILL at a random moment of ADD, then the runtime's DEL: nothing is left", arguments: ["bridge", "ptp"])
    func killedAdd(plugin: String) throws {
        let node = try Node("hrk")
        defer { node.tearDown() }
        let pod = try node.pod()
        let conf = Self.config(plugin, node)
        let input = node.dataDir + "/stdin"
        try conf.write(toFile: input, atomically: true, encoding: .utf8)
        var generator = SystemRandomNumberGenerator()
        for i in 0..<30 {
            let id = "kill\(i)"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            // `ip netns exec` execs the plugin in place, so the signal reaches the plugin itself.
            process.arguments = ["netns", "exec", node.ns.name, TestEnvironment.plugin(plugin)]
            process.environment = [
                "CNI_COMMAND": "ADD", "CNI_CONTAINERID": id, "CNI_NETNS": pod.path, "CNI_IFNAME": "eth0",
                "CNI_PATH": TestEnvironment.pluginDirectory, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            ]
            process.standardInput = FileHandle(forReadingAtPath: input)
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            usleep(UInt32.random(in: 0...25_000, using: &generator))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let deleted = try node.run(plugin, "DEL", config: conf, id: id, pod: pod)
            #expect(deleted.status == 0, "DEL after kill \(i): \(deleted)")
            try expectClean(node, pod, id: id, "kill \(i)")
        }
    }
}
