import CNISkeleton
import Testing

@testable import CNITool

/// What the tool refuses or leaves alone: libcni's name checks, cnitool's path cleaning, bridges
/// whose ports cannot be told apart, and a migration with nothing of ours to put in place.
@Suite("cni: names, paths and what doctor and migrate leave alone")
struct SafetyTests {
    @Test("libcni's checks: a container ID, network name or ifname that could leave the cache directory")
    func names() {
        func code(_ id: String, _ network: String, _ ifname: String) -> Int? {
            do {
                try Chain.validate(containerID: id, network: network, ifname: ifname)
                return nil
            } catch { return error.code.rawValue }
        }
        #expect(code("ctr-1_a.b", "podman", "eth0") == nil)
        #expect(code("", "n", "eth0") == 3)
        #expect(code("x/../../y", "n", "eth0") == 4 && code("-x", "n", "eth0") == 4)
        #expect(code("x", "a/b", "eth0") == 7 && code("x", "..", "eth0") == 7)
        #expect(
            code("x", "n", "a/b") == 4 && code("x", "n", "..") == 4
                && code("x", "n", String(repeating: "e", count: 16)) == 4)
    }

    @Test("The netns path is made absolute and cleaned, as cnitool's filepath.Abs does, before it is hashed")
    func paths() {
        #expect(RunCommand.absolute("./x", cwd: "/var/run/netns") == "/var/run/netns/x")
        #expect(RunCommand.absolute("../netns/x", cwd: "/var/run/netns") == "/var/run/netns/x")
        #expect(RunCommand.absolute("/a//b/./c/", cwd: "/") == "/a/b/c")
    }

    static func entry(network: String, result: String?) -> CachedAttachment {
        CachedAttachment(
            containerID: "c", network: network, ifname: "eth0", netns: "", cniArgs: [], capabilityArgs: JSONObject(),
            config: Array(#"{"cniVersion":"0.2.0","name":"\#(network)","type":"bridge","bridge":"br1"}"#.utf8),
            result: result.flatMap { try? JSONParser.parse($0) })
    }

    @Test("A live attachment that names no interfaces keeps doctor off its bridge's ports")
    func unknownPorts() throws {
        let old = NetworkList(
            name: "old", cniVersion: "0.2.0",
            plugins: [
                JSONObject([
                    JSONMember(key: "type", value: .string("bridge")),
                    JSONMember(key: "bridge", value: .string("br1")),
                ])
            ], bytes: [], disableCheck: false, disableGC: false)
        var new = old
        new.name = "new"
        new.plugins = [
            JSONObject([
                JSONMember(key: "type", value: .string("bridge")), JSONMember(key: "bridge", value: .string("br2")),
            ])
        ]
        let live = Attachments([Self.entry(network: "old", result: #"{"ip4":{"ip":"10.1.0.2/24"}}"#)])
        #expect(LinkLeaks.judgedBridges([old, new], live) == ["br2"])
    }

    @Test("reload and so migrate refuse an attachment without a cached result: the reference's rules stay")
    func noResult() {
        #expect(throws: CNIError.self) {
            _ = try ReloadCommand.reload(Self.entry(network: "n", result: nil), try ToolEnvironment([:]))
        }
    }
}
