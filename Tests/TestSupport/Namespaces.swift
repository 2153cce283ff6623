import Foundation

/// A named network namespace made with `ip netns add`, prefixed `cnit-` so leftovers are
/// recognisable; removed by `remove()`.
public final class TestNamespace: Sendable {
    public let name: String

    /// `/run/netns/<name>`, what runtimes pass as CNI_NETNS.
    public var path: String { "/run/netns/\(name)" }

    public init(_ tag: String) throws {
        name = "cnit-\(tag)-\(UUID().uuidString.prefix(8).lowercased())"
        try Command.checked(["ip", "netns", "add", name])
    }

    /// Deletes the namespace. Retries for a while: a container that another test starts
    /// (podman) copies the mount table, and while it lives its copy of our netns mount keeps
    /// the file busy (EBUSY).
    public func remove() throws {
        var last: CommandResult? = nil
        for _ in 0..<50 {
            let result = try Command.run(["ip", "netns", "delete", name])
            if result.status == 0 || !FileManager.default.fileExists(atPath: path) { return }
            last = result
            usleep(200_000)
        }
        throw TestFailure("ip netns delete \(name) failed: \(last.map { "\($0)" } ?? "")")
    }

    /// Runs a command inside the namespace.
    public func run(_ argv: [String], environment: [String: String]? = nil, stdin: String = "") throws -> CommandResult
    {
        try Command.run(["ip", "netns", "exec", name] + argv, environment: environment, stdin: stdin)
    }

    /// `ip -j <args>` inside the namespace, parsed.
    public func ipJSON(_ args: [String]) throws -> [[String: Any]] {
        let out = try Command.checked(["ip", "-n", name, "-j"] + args)
        guard let list = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]] else {
            throw TestFailure("ip -j \(args) printed no list: \(out)")
        }
        return list
    }

    /// True while `ip netns list` shows this namespace.
    public var exists: Bool {
        ((try? Command.checked(["ip", "netns", "list"])) ?? "").split(separator: "\n").contains {
            $0.split(separator: " ").first.map(String.init) == name
        }
    }
}

/// How a test invokes a plugin: CNI_* variables and stdin, run inside a node namespace when
/// one is given (as a runtime on that node would).
public struct PluginInvocation {
    public var plugin: String
    public var command: String
    public var containerID = "cnit-ctr"
    public var netns = ""
    public var ifname = "eth0"
    public var args = ""
    public var path: String = TestEnvironment.pluginDirectory
    public var extra: [String: String] = [:]
    /// Variables to leave out entirely (to test missing-variable errors).
    public var unset: Set<String> = []

    public init(plugin: String, command: String) {
        self.plugin = plugin
        self.command = command
    }

    public var environment: [String: String] {
        var env: [String: String] = [
            "CNI_COMMAND": command, "CNI_CONTAINERID": containerID, "CNI_NETNS": netns, "CNI_IFNAME": ifname,
            "CNI_ARGS": args, "CNI_PATH": path,
        ]
        env.merge(extra) { $1 }
        for key in unset { env.removeValue(forKey: key) }
        return env
    }

    /// Execs the plugin binary, inside `node` when given.
    public func run(stdin: String, node: TestNamespace? = nil, binary: String? = nil) throws -> CommandResult {
        let executable = binary ?? TestEnvironment.plugin(plugin)
        if let node { return try node.run([executable], environment: environment, stdin: stdin) }
        return try Command.run([executable], environment: environment, stdin: stdin)
    }
}
