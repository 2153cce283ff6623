import CNISkeleton
import CNISystem
import Glibc

/// Runs one plugin: the program found in `CNI_PATH`, or a test's stand-in.
public protocol PluginExecutor: Sendable {
    /// Exit status and stdout of `type` run with `environment` and `stdin`.
    func run(_ type: String, environment: [String], stdin: [UInt8]) throws(CNIError) -> (status: Int32, stdout: [UInt8])
}

/// A plugin's failure, with its stdout as it came (its CNI error object).
public struct PluginFailure: Error, Sendable {
    public var plugin: String
    public var stdout: [UInt8]
    public var status: Int32
}

/// What libcni does for one network and one attachment: ADD in order (each plugin getting the
/// previous one's result), CHECK in order and DEL in reverse with the cached result, GC and
/// STATUS in order; the result cache written after a whole ADD and removed after a DEL.
public struct Chain: Sendable {
    public let list: NetworkList
    public let environment: ToolEnvironment
    public let executor: any PluginExecutor

    public init(list: NetworkList, environment: ToolEnvironment, executor: any PluginExecutor) {
        self.list = list
        self.environment = environment
        self.executor = executor
    }

    var cache: ResultCache { ResultCache(root: environment.cacheDirectory) }

    private func env(_ command: String, containerID: String, netns: String) -> [String] {
        [
            "CNI_COMMAND=\(command)", "CNI_CONTAINERID=\(containerID)", "CNI_NETNS=\(netns)",
            "CNI_IFNAME=\(environment.ifname)", "CNI_ARGS=\(environment.cniArgs)",
            "CNI_PATH=\(environment.pluginPath.joined(separator: ":"))", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        ]
    }

    func callPlugin(
        _ plugin: JSONObject, _ command: String, _ containerID: String, _ netns: String,
        prevResult: JSONValue?, extra: [(String, JSONValue)] = []
    ) throws -> [UInt8] {
        let type = plugin["type"]?.stringValue ?? ""
        let stdin = list.request(
            for: plugin, capabilities: environment.capabilityArgs, prevResult: prevResult, extra: extra)
        let outcome = try executor.run(
            type, environment: env(command, containerID: containerID, netns: netns), stdin: stdin)
        guard outcome.status == 0 else {
            throw PluginFailure(plugin: type, stdout: outcome.stdout, status: outcome.status)
        }
        return outcome.stdout
    }

    /// libcni's checks before it runs anything: they keep the cache's file name inside its
    /// directory. Code 3 for an empty container ID, 4 for a bad one or a bad ifname, 7 for a
    /// bad network name.
    static func validate(containerID: String, network: String, ifname: String) throws(CNIError) {
        func plain(_ text: String) -> Bool {
            let bytes = Array(text.utf8)
            let allowed = { (b: UInt8) in (48...57).contains(b) || (65...90).contains(b) || (97...122).contains(b) }
            return bytes.first.map(allowed) == true && bytes.allSatisfy { allowed($0) || [95, 46, 45].contains($0) }
        }
        guard !containerID.isEmpty else { throw CNIError(.unknownContainer, "missing containerID") }
        guard plain(containerID) else {
            throw CNIError(.invalidEnvironmentVariables, "invalid characters in containerID", details: containerID)
        }
        guard plain(network) else {
            throw CNIError(.invalidNetworkConfig, "invalid characters found in network name", details: network)
        }
        let bad =
            ifname.isEmpty || ifname.utf8.count > 15 || ifname == "." || ifname == ".."
            || ifname.utf8.contains { $0 == 47 || $0 == 58 || $0 == 32 || $0 == 9 || $0 == 10 }
        if bad { throw CNIError(.invalidEnvironmentVariables, "invalid interface name", details: ifname) }
    }

    /// ADD through the list; the final result, cached.
    public func add(containerID: String, netns: String) throws -> JSONValue {
        try Self.validate(containerID: containerID, network: list.name, ifname: environment.ifname)
        var previous: JSONValue?
        for plugin in list.plugins {
            let out = try callPlugin(plugin, "ADD", containerID, netns, prevResult: previous)
            guard let parsed = try? JSONParser.parse(out) else {
                throw CNIError(.decodingFailure, "\(plugin["type"]?.stringValue ?? "") printed no JSON result")
            }
            previous = parsed == .null ? .object(JSONObject()) : parsed
        }
        let result = previous ?? .object(JSONObject())
        try cache.write(
            CachedAttachment(
                containerID: containerID, network: list.name, ifname: environment.ifname, netns: netns,
                cniArgs: environment.cniArgPairs, capabilityArgs: environment.capabilityArgs, config: list.bytes,
                result: result))
        return result
    }

    private func cachedResult(_ containerID: String) -> JSONValue? {
        guard (try? SpecVersion.isAtLeast(list.cniVersion, "0.4.0")) == true else { return nil }
        return cache.entry(network: list.name, containerID: containerID, ifname: environment.ifname)?.result
    }

    /// CHECK through the list with the cached result; refused below 0.4.0.
    public func check(containerID: String, netns: String) throws {
        guard (try? SpecVersion.isAtLeast(list.cniVersion, "0.4.0")) == true else {
            throw CNIError(
                .incompatibleCNIVersion,
                "configuration version \"\(list.cniVersion)\" does not support the CHECK command")
        }
        if list.disableCheck { return }
        try Self.validate(containerID: containerID, network: list.name, ifname: environment.ifname)
        let previous = cachedResult(containerID)
        for plugin in list.plugins { _ = try callPlugin(plugin, "CHECK", containerID, netns, prevResult: previous) }
    }

    /// DEL through the list in reverse; the cache entry goes once every plugin succeeded.
    public func del(containerID: String, netns: String) throws {
        try Self.validate(containerID: containerID, network: list.name, ifname: environment.ifname)
        let previous = cachedResult(containerID)
        for plugin in list.plugins.reversed() {
            _ = try callPlugin(plugin, "DEL", containerID, netns, prevResult: previous)
        }
        if let entry = cache.entry(network: list.name, containerID: containerID, ifname: environment.ifname) {
            cache.remove(entry)
        }
    }

    /// cnitool's GC: every cached attachment of the network is deleted (none is valid), then
    /// GC goes to each plugin (1.1.0 and later) with that said outright, an empty
    /// `cni.dev/valid-attachments` (cnitool leaves the key out, which our plugins refuse as a
    /// GC of everything by accident). Errors are collected; the first is thrown.
    public func gc() throws {
        if list.disableGC { return }
        var errors: [any Error] = []
        for entry in cache.entries() where entry.network == list.name {
            var each = environment
            each.ifname = entry.ifname
            each.cniArgs = entry.cniArgs.map { "\($0.0)=\($0.1)" }.joined(separator: ";")
            each.capabilityArgs = entry.capabilityArgs
            do {
                try Chain(list: list, environment: each, executor: executor).del(
                    containerID: entry.containerID, netns: entry.netnsPath)
            } catch {
                errors.append(error)
            }
        }
        if (try? SpecVersion.isAtLeast(list.cniVersion, "1.1.0")) == true {
            for plugin in list.plugins {
                let none: [(String, JSONValue)] = [("cni.dev/valid-attachments", .array([]))]
                do { _ = try callPlugin(plugin, "GC", "", "", prevResult: nil, extra: none) } catch {
                    errors.append(error)
                }
            }
        }
        if let first = errors.first { throw first }
    }

    /// STATUS of each plugin (1.1.0 and later), stopping at the first that is not ready.
    public func status() throws {
        guard (try? SpecVersion.isAtLeast(list.cniVersion, "1.1.0")) == true else { return }
        for plugin in list.plugins { _ = try callPlugin(plugin, "STATUS", "", "", prevResult: nil) }
    }
}

/// Runs plugins found in `CNI_PATH`, as libcni does (first directory holding the name wins).
public struct ExecExecutor: PluginExecutor {
    public let path: [String]

    public init(path: [String]) { self.path = path }

    public func run(_ type: String, environment: [String], stdin: [UInt8]) throws(CNIError) -> (
        status: Int32, stdout: [UInt8]
    ) {
        guard !type.isEmpty, !type.contains("/"),
            let executable = path.map({ $0 + "/" + type }).first(where: { access($0, X_OK) == 0 })
        else {
            throw CNIError(.internalError, "failed to find plugin \"\(type)\" in path \(path)")
        }
        let outcome = try ChildProcess(executable: executable, environment: environment).run(stdin: stdin)
        return (outcome.status, outcome.stdout)
    }
}
