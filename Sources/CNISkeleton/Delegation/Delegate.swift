import Glibc

/// Delegation to another plugin (IPAM) by exec, as the CNI spec and Go's `pkg/invoke` do it:
/// found in CNI_PATH, run with this process's environment with only CNI_COMMAND changed, and
/// given the same stdin bytes.
public enum Delegate {
    /// The first regular file named `type` in the `CNI_PATH` directories, in order.
    public static func find(_ type: String, in path: [String]) throws(CNIError) -> String {
        if type.isEmpty { throw CNIError(.invalidNetworkConfig, "no plugin name provided") }
        if type.contains("/") {
            throw CNIError(.invalidNetworkConfig, "invalid plugin name: \(type)")
        }
        for dir in path where !dir.isEmpty {
            let candidate = dir.hasSuffix("/") ? dir + type : dir + "/" + type
            var info = stat()
            if stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG { return candidate }
        }
        throw CNIError(.internalError, "failed to find plugin \"\(type)\" in path [\(path.joined(separator: " "))]")
    }

    /// Runs `type` with `command` and returns its stdout on success.
    ///
    /// A failing delegate's CNI error is returned with its own code, so e.g. IPAM's 7 or
    /// 50 reaches the runtime unchanged.
    public static func exec(_ type: String, command: CNICommand, request: CNIRequest) throws(CNIError) -> [UInt8] {
        let executable = try find(type, in: request.path)
        let child = ChildProcess(executable: executable, environment: environment(command: command))
        let outcome = try child.run(stdin: request.stdin)
        guard outcome.status == 0 else { throw childError(outcome) }
        return outcome.stdout
    }

    /// Plugins linked into this very binary, by type, each made only when it is run. The
    /// multi-call binary registers them at start-up, before any delegation can happen, and
    /// never changes them afterwards.
    nonisolated(unsafe) public static var linkedPlugin: (_ type: String) -> (any CNIPlugin)? = { _ in nil }

    /// The linked plugin to run in-process instead of exec'ing `executable`: only when the
    /// file found in CNI_PATH is this binary itself (a hard link of the multi-call binary),
    /// so running it in-process is exactly what the exec would run, minus the exec.
    static func inProcess(_ type: String, executable: String) -> (any CNIPlugin)? {
        guard let plugin = linkedPlugin(type) else { return nil }
        var theirs = stat(), ours = stat()
        guard stat(executable, &theirs) == 0, stat("/proc/self/exe", &ours) == 0,
            theirs.st_dev == ours.st_dev, theirs.st_ino == ours.st_ino
        else { return nil }
        return plugin
    }

    private static func inProcessRequest(_ request: CNIRequest, _ command: CNICommand) -> CNIRequest {
        CNIRequest(
            command: command, containerID: request.containerID, netns: request.netns, ifname: request.ifname,
            args: request.args, path: request.path, stdin: request.stdin, config: request.config)
    }

    private static func call(_ body: () throws -> Void) throws(CNIError) {
        do { try body() } catch { throw CNIError.wrapping(error) }
    }

    /// ADD on the delegate; its result in the 1.1.0 model.
    public static func add(_ type: String, request: CNIRequest) throws(CNIError) -> CNIResult {
        if let plugin = inProcess(type, executable: try find(type, in: request.path)) {
            var result = CNIResult()
            try call { result = try plugin.add(inProcessRequest(request, .add)) }
            return result
        }
        let out = try exec(type, command: .add, request: request)
        let value: JSONValue
        do { value = try JSONParser.parse(out) } catch {
            throw CNIError(.decodingFailure, "failed to parse result of \(type): \(error.message)")
        }
        let object: JSONValue = value == .null ? .object(JSONObject()) : value
        do {
            return try CNIResult(json: object, defaultVersion: request.config.cniVersion)
        } catch {
            throw CNIError(.decodingFailure, "failed to parse result of \(type): \(error.message)")
        }
    }

    /// DEL, CHECK, GC or STATUS on the delegate.
    public static func run(_ type: String, command: CNICommand, request: CNIRequest) throws(CNIError) {
        if let plugin = inProcess(type, executable: try find(type, in: request.path)) {
            let inner = inProcessRequest(request, command)
            switch command {
            case .del: try call { try plugin.del(inner) }
            case .check: try call { try plugin.check(inner) }
            case .gc: try call { try plugin.gc(inner) }
            case .status: try call { try plugin.status(inner) }
            case .add, .version: _ = try exec(type, command: command, request: request)
            }
            return
        }
        _ = try exec(type, command: command, request: request)
    }

    private static func environment(command: CNICommand) -> [String] {
        var out: [String] = []
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if !text.hasPrefix("CNI_COMMAND=") { out.append(text) }
            cursor += 1
        }
        out.append("CNI_COMMAND=\(command.rawValue)")
        return out
    }

    /// libcni's reading of a failed plugin: its JSON error, or a message about the exit.
    private static func childError(_ outcome: ChildProcess.Outcome) -> CNIError {
        if outcome.stdout.isEmpty {
            return CNIError(.internalError, "netplugin failed with no error message: exit status \(outcome.status)")
        }
        if let value = try? JSONParser.parse(outcome.stdout), case .object(let o) = value,
            case .number(let n)? = o["code"], let code = n.int
        {
            return CNIError(
                CNIError.Code(rawValue: code), o["msg"]?.stringValue ?? "",
                details: o["details"]?.stringValue ?? "")
        }
        let text = String(decoding: outcome.stdout, as: UTF8.self)
        return CNIError(.internalError, "netplugin failed but error parsing its diagnostic message \"\(text)\"")
    }
}
