import CNISkeleton
import CNISystem

/// A network's plugin list as libcni loads it: the first `*.conflist` (by file name) whose
/// `name` matches, else a single-plugin `*.conf` or `*.json`, plus the plugins of
/// `<dir>/<name>/*.conf`.
public struct NetworkList: Sendable {
    public var name: String
    /// The negotiated version: the highest of `cniVersion` and `cniVersions` up to 1.1.0.
    public var cniVersion: String
    public var plugins: [JSONObject]
    /// The file as read (libcni caches it, base64, with each result).
    public var bytes: [UInt8]
    public var disableCheck: Bool
    public var disableGC: Bool

    /// Loads `name` from `directory`; error 7 when no file defines it.
    public static func load(_ name: String, from directory: String) throws(CNIError) -> NetworkList {
        let files = entries(of: directory)
        for file in files where file.hasSuffix(".conflist") {
            if let list = try parse(directory + "/" + file, single: false), list.name == name {
                return try inlined(list, directory)
            }
        }
        for file in files where file.hasSuffix(".conf") || file.hasSuffix(".json") {
            if let list = try parse(directory + "/" + file, single: true), list.name == name {
                return try inlined(list, directory)
            }
        }
        throw CNIError(.invalidNetworkConfig, "no net configuration with name \"\(name)\" in \(directory)")
    }

    /// Every network defined in `directory`, by name, as libcni would pick it.
    public static func all(in directory: String) -> [NetworkList] {
        var seen = Set<String>(), out: [NetworkList] = []
        for file in entries(of: directory) where [".conflist", ".conf", ".json"].contains(where: file.hasSuffix) {
            guard let list = try? parse(directory + "/" + file, single: !file.hasSuffix(".conflist")),
                seen.insert(list.name).inserted
            else { continue }
            out.append(list)
        }
        return out
    }

    /// The names in `directory`, sorted; dot files only with `hidden`.
    static func entries(of directory: String, hidden: Bool = false) -> [String] {
        (DirectoryEntries.names(atPath: directory) ?? []).filter { hidden || !$0.hasPrefix(".") }.sorted()
    }

    static func parse(_ path: String, single: Bool) throws(CNIError) -> NetworkList? {
        guard let bytes = try? FileIO.readFile(path, limit: 16 << 20) else { return nil }
        guard case .object(let object)? = try? JSONParser.parse(bytes) else { return nil }
        let plugins: [JSONObject]
        if single {
            plugins = [object]
        } else {
            guard case .array(let items)? = object["plugins"] else { return nil }
            plugins = items.compactMap(\.objectValue)
        }
        let name = object["name"]?.stringValue ?? ""
        return NetworkList(
            name: name, cniVersion: try negotiate(object), plugins: plugins, bytes: bytes,
            disableCheck: object["disableCheck"] == .bool(true), disableGC: object["disableGC"] == .bool(true))
    }

    /// libcni's choice: the highest of `cniVersions` (and `cniVersion`) it supports.
    static func negotiate(_ object: JSONObject) throws(CNIError) -> String {
        var candidates = [object["cniVersion"]?.stringValue ?? ""].filter { !$0.isEmpty }
        if case .array(let versions)? = object["cniVersions"] {
            for version in versions {
                guard let text = version.stringValue else {
                    throw CNIError(.invalidNetworkConfig, "cniVersions entries must be strings")
                }
                candidates.append(text)
            }
        }
        var best: (String, (Int, Int, Int))?
        for candidate in candidates {
            let parsed = try SpecVersion.parse(candidate)
            guard parsed <= (1, 1, 0) else { continue }
            if best.map({ parsed > $0.1 }) ?? true { best = (candidate, parsed) }
        }
        return best?.0 ?? (object["cniVersion"]?.stringValue ?? "")
    }

    /// Appends the plugins of `<dir>/<name>/*.conf`.
    static func inlined(_ list: NetworkList, _ directory: String) throws(CNIError) -> NetworkList {
        var list = list
        let sub = directory + "/" + list.name
        for file in entries(of: sub) where file.hasSuffix(".conf") {
            guard let bytes = try? FileIO.readFile(sub + "/" + file, limit: 16 << 20),
                case .object(let plugin)? = try? JSONParser.parse(bytes),
                !(plugin["type"]?.stringValue ?? "").isEmpty
            else {
                throw CNIError(.invalidNetworkConfig, "invalid plugin configuration \(sub)/\(file): no type")
            }
            list.plugins.append(plugin)
        }
        return list
    }

    /// A plugin's stdin: its object with the list's `name` and `cniVersion`, `runtimeConfig`
    /// from the capability arguments it declared, and `prevResult` when given.
    public func request(
        for plugin: JSONObject, capabilities: JSONObject, prevResult: JSONValue?, extra: [(String, JSONValue)] = []
    ) -> [UInt8] {
        var config = plugin
        config.set("cniVersion", .string(cniVersion))
        config.set("name", .string(name))
        if case .object(let declared)? = plugin["capabilities"] {
            var runtime = JSONObject()
            for member in declared.members where member.value == .bool(true) {
                if let value = capabilities.exact(member.key) { runtime.set(member.key, value) }
            }
            if !runtime.isEmpty { config.set("runtimeConfig", .object(runtime)) }
        }
        if let prevResult { config.set("prevResult", prevResult) }
        for (key, value) in extra { config.members.append(JSONMember(key: key, value: value)) }
        return Array(JSONWriter.compact(.object(config)).utf8)
    }
}
