import CNISkeleton

/// The `ipam` section of a host-local network, with runtime inputs folded in, validated as
/// the reference's `LoadIPAMConfig` does. Every error is code 7 and names the bad key.
public struct HostLocalConfig: Sendable {
    public var network: String
    public var cniVersion: String
    /// In allocation order: `ipRanges` capability, legacy top-level range, then `ranges`.
    public var rangeSets: [RangeSet]
    public var routes: [CNIResult.Route]
    public var dataDir: String
    public var resolvConf: String?
    /// Addresses the runtime asked for (CNI_ARGS `IP`, `args.cni.ips`, runtimeConfig `ips`).
    public var requestedIPs: [IPAddress]

    /// The reference's default state root.
    public static let defaultDataDir = "/var/lib/cni/networks"

    public init(_ config: NetworkConfig, args: CNIArgs) throws(CNIError) {
        guard let ipam = try config.ipam() else { throw .invalidConfig("IPAM config missing 'ipam' key") }
        network = config.name
        cniVersion = config.cniVersion
        let runtime = try config.runtimeConfig()
        do {
            dataDir = try ipam.string("dataDir").flatMap { $0.isEmpty ? nil : $0 } ?? HostLocalConfig.defaultDataDir
            resolvConf = try ipam.string("resolvConf").flatMap { $0.isEmpty ? nil : $0 }
        } catch {
            throw .invalidConfig("ipam: \(error.message)")
        }
        routes = try HostLocalConfig.routes(ipam)

        var sets: [RangeSet] = []
        if let ranges = try HostLocalConfig.array(runtime, "ipRanges", key: "runtimeConfig.ipRanges") {
            sets += try HostLocalConfig.rangeSets(ranges, key: "runtimeConfig.ipRanges")
        }
        if ipam.value("subnet") != nil {
            sets.append(try RangeSet(ranges: [HostLocalConfig.range(ipam, key: "ipam")], key: "ipam"))
        }
        if let ranges = try HostLocalConfig.array(ipam, "ranges", key: "ipam.ranges") {
            sets += try HostLocalConfig.rangeSets(ranges, key: "ipam.ranges")
        }
        guard !sets.isEmpty else {
            throw .invalidConfig("no IP ranges specified", details: "set ipam.ranges or ipam.subnet")
        }
        try HostLocalConfig.checkFamilies(sets, cniVersion: config.cniVersion)
        for i in sets.indices {
            for j in sets.indices where j > i && sets[i].overlaps(sets[j]) {
                throw .invalidConfig("range set \(i) overlaps with \(j)")
            }
        }
        rangeSets = sets
        requestedIPs = try HostLocalConfig.requested(config, args: args, runtime: runtime)
    }

    /// `ipam.dataDir` read leniently, for DEL: the default when absent or not a string.
    public static func dataDir(_ config: NetworkConfig) -> String {
        let dir = ((try? config.ipam()) ?? nil)?.lenientString("dataDir") ?? ""
        return dir.isEmpty ? defaultDataDir : dir
    }

    static func routes(_ ipam: JSONFields) throws(CNIError) -> [CNIResult.Route] {
        let values: [JSONValue]
        do { values = try ipam.array("routes") ?? [] } catch { throw .invalidConfig("ipam.routes: \(error.message)") }
        var out: [CNIResult.Route] = []
        for (i, value) in values.enumerated() {
            do { out.append(try CNIResult.decodeRoute(value)) } catch {
                throw .invalidConfig("ipam.routes[\(i)]: \(error.message)")
            }
        }
        return out
    }

    private static func array(_ fields: JSONFields?, _ name: String, key: String) throws(CNIError) -> [JSONValue]? {
        guard let fields else { return nil }
        do { return try fields.array(name) } catch { throw .invalidConfig("\(key): \(error.message)") }
    }

    private static func rangeSets(_ values: [JSONValue], key: String) throws(CNIError) -> [RangeSet] {
        var sets: [RangeSet] = []
        for (i, value) in values.enumerated() {
            guard case .array(let items) = value else {
                throw .invalidConfig("\(key)[\(i)]: a range set must be an array of ranges")
            }
            var ranges: [IPRange] = []
            for (j, item) in items.enumerated() {
                guard case .object(let object) = item else {
                    throw .invalidConfig("\(key)[\(i)][\(j)]: a range must be an object")
                }
                ranges.append(try range(JSONFields(object, typeName: "Range"), key: "\(key)[\(i)][\(j)]"))
            }
            do { sets.append(try RangeSet(ranges: ranges, key: "\(key)[\(i)]")) } catch {
                throw .invalidConfig("invalid range set \(i): \(error.msg)")
            }
        }
        return sets
    }

    static func range(_ f: JSONFields, key: String) throws(CNIError) -> IPRange {
        func text(_ name: String) throws(CNIError) -> String? {
            do { return try f.string(name).flatMap { $0.isEmpty ? nil : $0 } } catch {
                throw .invalidConfig("\(key).\(name): \(error.message)")
            }
        }
        func address(_ name: String) throws(CNIError) -> IPAddress? {
            guard let value = try text(name) else { return nil }
            guard let ip = IPAddress(value) else {
                throw .invalidConfig("\(key).\(name): invalid IP address \"\(value)\"")
            }
            return ip
        }
        guard let subnetText = try text("subnet") else { throw .invalidConfig("\(key).subnet: missing subnet") }
        guard let subnet = IPPrefix(subnetText) else {
            throw .invalidConfig("\(key).subnet: invalid CIDR address: \(subnetText)")
        }
        return try IPRange(
            subnet: subnet, start: address("rangeStart"), end: address("rangeEnd"), gateway: address("gateway"),
            key: key)
    }

    private static func checkFamilies(_ sets: [RangeSet], cniVersion: String) throws(CNIError) {
        let v4 = sets.filter(\.isV4).count
        if v4 > 1 || sets.count - v4 > 1, (try? SpecVersion.isAtLeast(cniVersion, "0.3.0")) != true {
            throw .invalidConfig("CNI version \(cniVersion) does not support more than 1 address per family")
        }
    }

    /// Requested addresses; `args.cni.ips` replaces CNI_ARGS `IP` (as the reference orders them), and the
    /// `ips` capability is added to either.
    private static func requested(_ config: NetworkConfig, args: CNIArgs, runtime: JSONFields?) throws(CNIError)
        -> [IPAddress]
    {
        var out: [IPAddress] = []
        var argsIPs: [String]? = nil
        let argsObject = try config.args()
        do { argsIPs = try argsObject?.object("cni", typeName: "IPAMArgs")?.stringArray("ips") } catch {
            throw .invalidConfig("args.cni.ips: \(error.message)")
        }
        if let argsIPs, !argsIPs.isEmpty {
            out += try argsIPs.map { (text) throws(CNIError) in try parse(text, key: "args.cni.ips") }
        } else if let ip = try args.value("IP", known: ["IP"]), !ip.isEmpty {
            out.append(try parse(ip, key: "CNI_ARGS IP"))
        }
        let runtimeIPs: [String]?
        do { runtimeIPs = try runtime?.stringArray("ips") } catch {
            throw .invalidConfig("runtimeConfig.ips: \(error.message)")
        }
        out += try (runtimeIPs ?? []).map { (text) throws(CNIError) in try parse(text, key: "runtimeConfig.ips") }
        var unique: [IPAddress] = []
        for ip in out where !unique.contains(ip) { unique.append(ip) }
        return unique
    }

    /// An IP with an optional prefix length, which is ignored.
    static func parse(_ text: String, key: String) throws(CNIError) -> IPAddress {
        if let ip = IPAddress(text) { return ip }
        if let prefix = IPPrefix(text) { return prefix.address }
        throw .invalidConfig("cannot understand ip: \(key) \"\(text)\"")
    }
}
