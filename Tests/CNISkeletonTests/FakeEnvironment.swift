import CNISkeleton

/// An in-memory process: variables, stdin, captured stdout/stderr.
final class FakeEnvironment: PluginEnvironment {
    var variables: [String: String]
    var stdin: [UInt8]
    var stdout = ""
    var stderr = ""
    var stdinReads = 0
    var ownNetns: Set<String> = []

    init(_ variables: [String: String], stdin: String = "") {
        self.variables = variables
        self.stdin = Array(stdin.utf8)
    }

    /// A plausible default environment for `command`.
    convenience init(command: String, stdin: String = #"{"cniVersion":"1.1.0","name":"testnet","type":"fake"}"#) {
        self.init(
            [
                "CNI_COMMAND": command, "CNI_CONTAINERID": "ctr1", "CNI_NETNS": "/run/netns/pod",
                "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin",
            ], stdin: stdin)
    }

    func variable(_ name: String) -> String? { variables[name] }

    func readStdin() throws(CNIError) -> [UInt8] {
        stdinReads += 1
        return stdin
    }

    func writeStdout(_ text: String) { stdout += text }
    func writeStderr(_ text: String) { stderr += text }
    func isOwnNetworkNamespace(_ path: String) -> Bool { ownNetns.contains(path) }

    /// stdout as a JSON object (parsed with the product's parser, which has its own tests).
    var stdoutObject: JSONObject? {
        (try? JSONParser.parse(stdout))?.objectValue
    }

    var errorCode: Int? {
        guard case .number(let n)? = stdoutObject?["code"] else { return nil }
        return n.int
    }

    var errorMessage: String? { stdoutObject?["msg"]?.stringValue }
}

/// A plugin that records which handler ran and returns a canned result.
final class RecordingPlugin: CNIPlugin, @unchecked Sendable {
    // @unchecked: each test owns its instance and runs it on one thread.
    let type = "fake"
    var calls: [CNICommand] = []
    var requests: [CNIRequest] = []
    var result = CNIResult(
        interfaces: [.init(name: "eth0", mac: "3a:1c:00:00:00:03", mtu: 1500, sandbox: "/run/netns/pod")],
        ips: [.init(interface: 0, address: IPPrefix("10.22.0.7/24")!, gateway: IPAddress("10.22.0.1"))],
        routes: [.init(dst: IPPrefix("0.0.0.0/0")!)])
    var failure: (any Error)?

    func record(_ request: CNIRequest) throws {
        calls.append(request.command)
        requests.append(request)
        if let failure { throw failure }
    }

    func add(_ request: CNIRequest) throws -> CNIResult {
        try record(request)
        return result
    }
    func del(_ request: CNIRequest) throws { try record(request) }
    func check(_ request: CNIRequest) throws { try record(request) }
    func gc(_ request: CNIRequest) throws { try record(request) }
    func status(_ request: CNIRequest) throws { try record(request) }
}

/// Runs one invocation in memory.
@discardableResult
func dispatch(_ env: FakeEnvironment, _ plugin: RecordingPlugin = RecordingPlugin()) -> Int32 {
    PluginMain.dispatch(plugin, environment: env)
}
