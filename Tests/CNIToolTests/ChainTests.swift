import CNISkeleton
import Glibc
import Testing

@testable import CNITool

/// Plugins played by the test: each call is recorded, and ADD answers with a result that
/// names the plugin.
final class FakeExecutor: PluginExecutor, @unchecked Sendable {
    // @unchecked: one chain runs at a time in these tests.
    var calls: [(type: String, command: String, stdin: JSONObject)] = []
    var failing: String?

    func run(_ type: String, environment: [String], stdin: [UInt8]) throws(CNIError) -> (status: Int32, stdout: [UInt8])
    {
        let command = environment.first { $0.hasPrefix("CNI_COMMAND=") }.map { String($0.dropFirst(12)) } ?? ""
        guard case .object(let object)? = try? JSONParser.parse(stdin) else {
            throw CNIError(.decodingFailure, "stdin")
        }
        calls.append((type, command, object))
        if type == failing { return (1, Array(#"{"code":7,"msg":"no"}"#.utf8)) }
        let result = #"{"cniVersion":"1.0.0","interfaces":[{"name":"\#(type)"}],"ips":[]}"#
        return (0, command == "ADD" ? Array(result.utf8) : [])
    }
}

@Suite("cni run: libcni's sequences, request configs and result cache, against fake plugins")
struct ChainTests {
    /// A scratch directory holding `files`, removed by `body`'s end.
    func withDirectory(_ files: [String: String], _ body: (String) throws -> Void) throws {
        var template = Array("/tmp/cnit-tool-XXXXXX".utf8CString)
        let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        defer { _ = system("rm -rf '\(path)'") }
        for (name, text) in files {
            let file = fopen(path + "/" + name, "w")
            fputs(text, file)
            fclose(file)
        }
        try body(path)
    }

    static let conflist =
        #"{"cniVersion":"1.0.0","cniVersions":["0.4.0","1.0.0","9.9.9"],"name":"net","plugins":[{"type":"a","capabilities":{"portMappings":true}},{"type":"b"}]}"#

    @Test("ADD in order with each result as the next prevResult, runtimeConfig from declared capabilities, then cached")
    func addThenDel() throws {
        try withDirectory(["10-net.conflist": Self.conflist]) { dir in
            let env = try ToolEnvironment([
                "NETCONFPATH": dir, "CNI_CACHE_DIR": dir + "/cache", "CAP_ARGS": #"{"portMappings":[1],"mac":"x"}"#,
            ])
            let list = try NetworkList.load("net", from: dir)
            #expect(list.cniVersion == "1.0.0", "the highest version libcni supports")
            let fake = FakeExecutor()
            let chain = Chain(list: list, environment: env, executor: fake)
            let result = try chain.add(containerID: "c1", netns: "/run/netns/x")
            #expect(fake.calls.map(\.type) == ["a", "b"])
            #expect(
                fake.calls[0].stdin["runtimeConfig"]
                    == .object(JSONObject([JSONMember(key: "portMappings", value: .array([.number(JSONNumber(1))]))])))
            #expect(fake.calls[0].stdin["prevResult"] == nil && fake.calls[1].stdin["prevResult"] != nil)
            #expect(fake.calls[1].stdin["runtimeConfig"] == nil, "b declared no capability")
            #expect(
                fake.calls.allSatisfy {
                    $0.stdin["name"] == .string("net") && $0.stdin["cniVersion"] == .string("1.0.0")
                })
            let cached = try #require(
                ResultCache(root: dir + "/cache").entry(network: "net", containerID: "c1", ifname: "eth0"))
            #expect(cached.result == result && cached.netns == "/run/netns/x")
            #expect(cached.config == Array(Self.conflist.utf8), "the conflist, as libcni caches it")

            try chain.del(containerID: "c1", netns: "/run/netns/x")
            #expect(fake.calls.suffix(2).map(\.type) == ["b", "a"], "DEL runs in reverse")
            #expect(fake.calls.suffix(2).allSatisfy { $0.stdin["prevResult"] == result }, "with the cached result")
            #expect(ResultCache(root: dir + "/cache").entries().isEmpty, "the cache entry goes with a DEL")
        }
    }

    @Test("A failing plugin stops the chain; nothing is cached")
    func failure() throws {
        try withDirectory(["net.conflist": Self.conflist]) { dir in
            let env = try ToolEnvironment(["NETCONFPATH": dir, "CNI_CACHE_DIR": dir + "/cache"])
            let fake = FakeExecutor()
            fake.failing = "a"
            let chain = Chain(list: try NetworkList.load("net", from: dir), environment: env, executor: fake)
            #expect(throws: PluginFailure.self) { try chain.add(containerID: "c1", netns: "/x") }
            #expect(fake.calls.map(\.type) == ["a"] && ResultCache(root: dir + "/cache").entries().isEmpty)
        }
    }

    @Test("A single-plugin .conf is a list of one; a missing network is error 7; cnitool's container ID")
    func loading() throws {
        try withDirectory(["a.conf": #"{"cniVersion":"0.3.1","name":"one","type":"bridge"}"#]) { dir in
            let list = try NetworkList.load("one", from: dir)
            #expect(list.plugins.count == 1 && list.cniVersion == "0.3.1")
            #expect(throws: CNIError.self) { try NetworkList.load("two", from: dir) }
        }
        #expect(RunCommand.containerID(netns: "/var/run/netns/demo") == "cnitool-81e3a71f81544407538e")
    }

    @Test("Base64 as Go writes []byte, and back")
    func base64() {
        #expect(Base64.encode(Array(#"{"a":1}"#.utf8)) == "eyJhIjoxfQ==")
        #expect(Base64.encode(Array("ab".utf8)) == "YWI=" && Base64.encode(Array("abc".utf8)) == "YWJj")
        for text in ["", "a", "ab", "abc", "abcd", #"{"cniVersion":"1.0.0"}"#] {
            #expect(Base64.decode(Base64.encode(Array(text.utf8))) == Array(text.utf8))
        }
        #expect(Base64.decode("a===") == nil && Base64.decode("abc") == nil)
    }
}
