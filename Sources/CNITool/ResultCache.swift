import CNISkeleton
import CNISystem
import Glibc

/// One attachment in libcni's cache, `<cache>/results/<network>-<containerID>-<ifname>`, in
/// the format runtimes write (`kind: cniCacheV1`).
public struct CachedAttachment: Sendable {
    public var containerID: String
    public var network: String
    public var ifname: String
    public var netns: String
    public var cniArgs: [(String, String)]
    public var capabilityArgs: JSONObject
    /// The conflist the attachment was made with.
    public var config: [UInt8]
    public var result: JSONValue?
    /// The cache file's name.
    public var file: String

    public init(
        containerID: String, network: String, ifname: String, netns: String, cniArgs: [(String, String)],
        capabilityArgs: JSONObject, config: [UInt8], result: JSONValue?
    ) {
        self.containerID = containerID
        self.network = network
        self.ifname = ifname
        self.netns = netns
        self.cniArgs = cniArgs
        self.capabilityArgs = capabilityArgs
        self.config = config
        self.result = result
        self.file = "\(network)-\(containerID)-\(ifname)"
    }

    /// The netns path: as cached, or (libcni releases before 1.2 do not cache it) the sandbox
    /// of the result's container interface.
    public var netnsPath: String {
        guard netns.isEmpty, case .array(let interfaces)? = result?.objectValue?["interfaces"] else { return netns }
        let sandboxes = interfaces.compactMap { $0.objectValue?["sandbox"]?.stringValue }.filter { !$0.isEmpty }
        return sandboxes.first ?? ""
    }

    var json: JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("kind", .string("cniCacheV1")), ("containerId", .string(containerID)),
            ("config", .string(Base64.encode(config))), ("ifName", .string(ifname)),
            ("networkName", .string(network)),
        ]
        if !netns.isEmpty { pairs.append(("netns", .string(netns))) }
        if !cniArgs.isEmpty {
            pairs.append(("cniArgs", .array(cniArgs.map { .array([.string($0.0), .string($0.1)]) })))
        }
        if !capabilityArgs.isEmpty { pairs.append(("capabilityArgs", .object(capabilityArgs))) }
        if let result { pairs.append(("result", result)) }
        return JSONValue.object(pairs)
    }

    /// Reads a cache file; nil for one that is not a cache entry.
    init?(file: String, bytes: [UInt8]) {
        guard case .object(let object)? = try? JSONParser.parse(bytes),
            object.exact("kind")?.stringValue == "cniCacheV1"
        else { return nil }
        containerID = object.exact("containerId")?.stringValue ?? ""
        network = object.exact("networkName")?.stringValue ?? ""
        ifname = object.exact("ifName")?.stringValue ?? ""
        netns = object.exact("netns")?.stringValue ?? ""
        var pairs: [(String, String)] = []
        if case .array(let items)? = object.exact("cniArgs") {
            for case .array(let pair) in items where pair.count == 2 {
                if let k = pair[0].stringValue, let v = pair[1].stringValue { pairs.append((k, v)) }
            }
        }
        cniArgs = pairs
        capabilityArgs = object.exact("capabilityArgs")?.objectValue ?? JSONObject()
        config = object.exact("config")?.stringValue.flatMap(Base64.decode) ?? []
        result = object.exact("result")
        self.file = file
    }
}

/// libcni's result cache directory.
public struct ResultCache: Sendable {
    public let directory: String

    public init(root: String) { directory = root + "/results" }

    /// Every readable entry, by file name.
    public func entries() -> [CachedAttachment] {
        NetworkList.entries(of: directory).compactMap { name in
            guard let bytes = try? FileIO.readFile(directory + "/" + name, limit: 16 << 20, noFollow: true) else {
                return nil
            }
            return CachedAttachment(file: name, bytes: bytes)
        }
    }

    public func entry(network: String, containerID: String, ifname: String) -> CachedAttachment? {
        let name = "\(network)-\(containerID)-\(ifname)"
        guard let bytes = try? FileIO.readFile(directory + "/" + name, limit: 16 << 20, noFollow: true) else {
            return nil
        }
        return CachedAttachment(file: name, bytes: bytes)
    }

    /// Writes the entry atomically, the directory 0700 and the file 0600, as libcni does.
    public func write(_ entry: CachedAttachment) throws(CNIError) {
        do {
            try FileIO.makeDirectories(directory, mode: 0o700)
            try FileIO.replaceFile(
                directory + "/" + entry.file, Array(JSONWriter.compact(entry.json).utf8), mode: 0o600)
        } catch {
            throw CNIError(.ioFailure, "failed to write the result cache: \(error)")
        }
    }

    public func remove(_ entry: CachedAttachment) {
        _ = unlink(directory + "/" + entry.file)
    }
}
