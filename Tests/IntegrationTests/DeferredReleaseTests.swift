import Foundation
import Testing
import TestSupport

/// A DEL's netfilter socket is released by a detached helper, so the runtime does not wait
/// for the kernel's RCU grace period; the helper must never hold the runtime's pipes open,
/// and the DEL's work is complete before it starts.
@Suite(
    "Deferred release of netfilter sockets after DEL",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct DeferredReleaseTests {
    /// Processes running the helper, by pid.
    func helpers() -> [Int32] {
        let out = (try? Command.run(["pgrep", "-f", "-x", "swift-cni-release"]))?.stdout ?? ""
        return out.split(separator: "\n").compactMap { Int32($0) }
    }

    /// bridge `command` with its release helper holding the socket for 3 s, long enough to look at.
    static func holdingRelease(_ command: String, _ conf: String, id: String, pod: TestNamespace, node: Node) throws
        -> CommandResult
    {
        var invocation = PluginInvocation(plugin: "bridge", command: command)
        invocation.containerID = id
        invocation.netns = pod.path
        invocation.extra = ["SWIFT_CNI_RELEASE_DELAY_MS": "3000"]
        return try invocation.run(stdin: conf, node: node.ns)
    }

    @Test(
        "The rules are gone when DEL returns; the helper has only /dev/null and the socket, in its own session, and exits"
    )
    func helper() throws {
        let node = try Node("dfr")
        defer { node.tearDown() }
        let pod = try node.pod()
        let conf =
            #"{"cniVersion":"1.0.0","name":"dfr","type":"bridge","bridge":"cnitdfr0","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","subnet":"10.53.0.0/24","dataDir":"\#(node.dataDir)"}}"#
        #expect(try node.run("bridge", "ADD", config: conf, id: "ctr1", pod: pod).status == 0)
        let before = Set(helpers())
        let deleted = try Self.holdingRelease("DEL", conf, id: "ctr1", pod: pod, node: node)
        #expect(deleted.status == 0, "\(deleted)")
        #expect(try !node.nftRuleset().contains("id: ctr1"), "committed before the handoff")
        let started = Set(helpers()).subtracting(before)
        #expect(!started.isEmpty, "a helper holds the socket")
        for pid in started {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            #expect(Set(fds) == ["0", "1", "2", "3"], "only the standard descriptors and the socket: \(fds)")
            for fd in ["0", "1", "2"] {
                #expect(
                    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)")) == "/dev/null"
                )
            }
            let socket = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/3")) ?? ""
            #expect(socket.hasPrefix("socket:"), "\(socket)")
            #expect(getsid(pid) == pid, "a session of its own, out of the runtime's process group")
        }
        #expect(eventually(10) { Set(helpers()).intersection(started).isEmpty }, "the helper exits by itself")
    }

    @Test(
        "An ADD right after a DEL hands its socket to a helper too: the kernel may still be destroying what DEL removed"
    )
    func addAfterDelete() throws {
        let node = try Node("dfa")
        defer { node.tearDown() }
        let (first, second) = (try node.pod(), try node.pod())
        let conf =
            #"{"cniVersion":"1.0.0","name":"dfa","type":"bridge","bridge":"cnitdfa0","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","subnet":"10.54.0.0/24","dataDir":"\#(node.dataDir)"}}"#
        #expect(try node.run("bridge", "ADD", config: conf, id: "ctr1", pod: first).status == 0)
        #expect(try node.run("bridge", "DEL", config: conf, id: "ctr1", pod: first).status == 0)
        let before = Set(helpers())
        let added = try Self.holdingRelease("ADD", conf, id: "ctr2", pod: second, node: node)
        #expect(added.status == 0, "\(added)")
        let started = Set(helpers()).subtracting(before)
        #expect(!started.isEmpty, "the ADD's only-adding batch came within 200 ms of the DEL's deleting one")
        #expect(try node.nftRuleset().contains("ctr2"), "committed before the handoff")
        #expect(try node.run("bridge", "DEL", config: conf, id: "ctr2", pod: second).status == 0)
        #expect(eventually(10) { Set(helpers()).intersection(started).isEmpty }, "the helper exits by itself")
    }
}
