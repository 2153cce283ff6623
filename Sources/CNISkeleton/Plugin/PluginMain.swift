import CNISystem
import Glibc

/// The plugin entry point: Go skel's dispatcher, check for check.
///
/// Order (Go skel's): environment variables (validating present ones in order),
/// missing variables, VERSION, stdin, JSON and network name, version gates, own-netns check,
/// then the handler. Every failure is printed as a CNI error object on stdout with exit 1.
public enum PluginMain {
    /// Runs `plugin` against the real process environment and exits.
    public static func run(_ plugin: some CNIPlugin) -> Never {
        DeferredClose.runHelperIfAsked()
        FaultPoint.arm(plugin: plugin.type)
        exit(dispatch(plugin, environment: ProcessEnvironment()))
    }

    /// Runs one invocation and returns the exit status.
    public static func dispatch(_ plugin: some CNIPlugin, environment env: some PluginEnvironment) -> Int32 {
        var errorVersion = SpecVersion.current
        do {
            if let output = try perform(plugin, env, errorVersion: &errorVersion) {
                env.writeStdout(output)
            }
            return 0
        } catch {
            switch error {
            case .about:
                env.writeStderr(
                    "\(plugin.about)\nCNI protocol versions supported: \(plugin.supportedVersions.joined(separator: ", "))\n"
                )
                return 0
            case .cni(let failure):
                env.writeStdout(failure.json(cniVersion: errorVersion))
                return 1
            }
        }
    }

    enum Outcome: Error {
        case about
        case cni(CNIError)
    }

    private static let variableOrder = [
        "CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH",
    ]

    private static func perform(
        _ plugin: some CNIPlugin, _ env: some PluginEnvironment, errorVersion: inout String
    ) throws(Outcome) -> String? {
        func value(_ name: String) -> String { env.variable(name) ?? "" }
        let commandText = value("CNI_COMMAND")
        let command = CNICommand(rawValue: commandText)
        let required = command?.requiredVariables ?? []
        var missing: [String] = []
        for name in variableOrder {
            let v = value(name)
            if v.isEmpty {
                if name == "CNI_COMMAND" || required.contains(name) { missing.append(name) }
                continue
            }
            guard required.contains(name) else { continue }
            do {
                if name == "CNI_CONTAINERID" { try Validation.validateContainerID(v) }
                if name == "CNI_IFNAME" { try Validation.validateInterfaceName(v) }
            } catch { throw .cni(error) }
        }
        if !missing.isEmpty {
            if commandText.isEmpty, !plugin.about.isEmpty { throw .about }
            throw .cni(
                CNIError(
                    .invalidEnvironmentVariables, "required env variables [\(missing.joined(separator: ","))] missing"))
        }
        if command == .version {
            return versionJSON(plugin.supportedVersions)
        }

        let stdin: [UInt8]
        do { stdin = try env.readStdin() } catch { throw .cni(error) }
        let config: NetworkConfig
        do {
            config = try decodeConfig(stdin)
            errorVersion = config.cniVersion
        } catch { throw .cni(error) }
        guard let command else {
            throw .cni(CNIError(.invalidEnvironmentVariables, "unknown CNI_COMMAND: \(commandText)"))
        }
        do { try checkVersion(command, config.cniVersion, plugin.supportedVersions) } catch { throw .cni(error) }

        let netns = value("CNI_NETNS")
        if command == .add || command == .del, !overridesNetnsCheck(value("CNI_NETNS_OVERRIDE")),
            env.isOwnNetworkNamespace(netns)
        {
            throw .cni(CNIError(.invalidNetNS, "plugin's netns and netns from CNI_NETNS should not be the same"))
        }

        let request = CNIRequest(
            command: command, containerID: value("CNI_CONTAINERID"), netns: netns, ifname: value("CNI_IFNAME"),
            args: CNIArgs(value("CNI_ARGS")),
            path: value("CNI_PATH").split(separator: ":").map(String.init),
            stdin: stdin, config: config)
        do {
            return try call(plugin, request)
        } catch let error as CNIError {
            throw .cni(error)
        } catch {
            throw .cni(CNIError.wrapping(error))
        }
    }

    private static func call(_ plugin: some CNIPlugin, _ request: CNIRequest) throws -> String? {
        switch request.command {
        case .add:
            let result = try plugin.add(request)
            do {
                return try result.printed(version: request.config.cniVersion)
            } catch {
                // The result cannot be expressed in the requested version (0.1.0/0.2.0 without
                // an IP): the ADD fails, so undo what it did rather than leak it.
                try? plugin.del(
                    CNIRequest(
                        command: .del, containerID: request.containerID, netns: request.netns,
                        ifname: request.ifname, args: request.args, path: request.path,
                        stdin: request.stdin, config: request.config))
                throw error
            }
        case .del: try plugin.del(request)
        case .check: try plugin.check(request)
        case .gc: try plugin.gc(request)
        case .status: try plugin.status(request)
        case .version: break
        }
        return nil
    }

    /// The VERSION answer: compact JSON and a newline, skel's exact bytes.
    static func versionJSON(_ versions: [String]) -> String {
        JSONWriter.compact(
            .object([
                ("cniVersion", .string(SpecVersion.current)),
                ("supportedVersions", .array(versions.map(JSONValue.string))),
            ])) + "\n"
    }

    static func decodeConfig(_ stdin: [UInt8]) throws(CNIError) -> NetworkConfig {
        let value: JSONValue
        do {
            value = try JSONParser.parse(stdin)
        } catch {
            throw CNIError(.decodingFailure, "error unmarshall network config: \(error.message)")
        }
        guard case .object(let object) = value else {
            throw CNIError(
                .decodingFailure,
                "error unmarshall network config: json: cannot unmarshal \(value.goKind) into Go value of type struct { Name string \"json:\\\"name\\\"\" }"
            )
        }
        let config = try NetworkConfig(object: object)
        try Validation.validateNetworkName(config.name)
        return config
    }

    static func checkVersion(_ command: CNICommand, _ version: String, _ supported: [String]) throws(CNIError) {
        if let floor = command.minimumConfigVersion {
            guard try SpecVersion.isAtLeast(version, floor) else {
                throw CNIError(.incompatibleCNIVersion, "config version does not allow \(command.rawValue)")
            }
            var allowed = false
            for candidate in supported where try SpecVersion.isAtLeast(candidate, version) { allowed = true }
            guard allowed else {
                throw CNIError(.incompatibleCNIVersion, "plugin version does not allow \(command.rawValue)")
            }
        }
        // A DEL is served in any version the skeleton knows, so that an attachment made by an
        // ADD in a version this plugin refuses (a runtime that ran an older chain) can still
        // be cleaned up instead of leaking forever.
        guard supported.contains(version) || (command == .del && SpecVersion.all.contains(version)) else {
            let list = supported.map { "\"\($0)\"" }.joined(separator: " ")
            throw CNIError(
                .incompatibleCNIVersion, "incompatible CNI versions",
                details: "config is \"\(version)\", plugin supports [\(list)]")
        }
    }

    private static func overridesNetnsCheck(_ value: String) -> Bool {
        value == "1" || value.lowercased() == "true"
    }
}
