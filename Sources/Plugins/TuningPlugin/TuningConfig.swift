import CNISkeleton
import PluginSupport

/// The tuning plugin's configuration: `args.cni.*` over runtimeConfig `mac` over CNI_ARGS
/// `MAC` over the top-level keys, as the reference orders them.
struct TuningConfig {
    var sysctl: [(key: String, value: String)] = []
    var mac: MACAddress?
    var macText: String?
    var promisc = false
    var mtu: UInt32?
    var txQueueLength: UInt32?
    var allMulticast: Bool?
    static let defaultDataDir = "/run/cni/tuning"
    var dataDir = defaultDataDir

    static let allowlist = "/etc/cni/tuning/allowlist.conf"

    init(_ request: CNIRequest) throws(CNIError) {
        let f = request.config.fields
        do {
            sysctl = try TuningConfig.sysctls(f.value("sysctl"), key: "sysctl")
            macText = try f.string("mac").flatMap { $0.isEmpty ? nil : $0 }
            promisc = try f.bool("promisc") ?? false
            mtu = try TuningConfig.positive(f.int("mtu"), key: "mtu")
            txQueueLength = try TuningConfig.positive(f.int("txQLen"), key: "txQLen", allowZero: true)
            allMulticast = try f.bool("allmulti")
            dataDir = try f.string("dataDir").flatMap { $0.isEmpty ? nil : $0 } ?? dataDir
            if let mac = try request.args.value("MAC", known: ["MAC"]), !mac.isEmpty { macText = mac }
            if let mac = try request.config.runtimeConfig()?.string("mac"), !mac.isEmpty { macText = mac }
            if let args = try request.config.args()?.object("cni", typeName: "TuningArgs") {
                for (key, value) in try TuningConfig.sysctls(args.value("sysctl"), key: "args.cni.sysctl") {
                    sysctl.removeAll { $0.key == key }
                    sysctl.append((key, value))
                }
                if let mac = try args.string("mac") { macText = mac }
                if let value = try args.bool("promisc") { promisc = value }
                if let value = try TuningConfig.positive(args.int("mtu"), key: "args.cni.mtu") { mtu = value }
                if let value = try TuningConfig.positive(args.int("txQLen"), key: "args.cni.txQLen", allowZero: true) {
                    txQueueLength = value
                }
                if let value = try args.bool("allmulti") { allMulticast = value }
            }
        } catch {
            throw CNIError.decodingConfig(error)
        }
        if let macText {
            guard let parsed = MACAddress(macText) else {
                throw .invalidConfig("invalid args \(macText) for MAC addr", details: "key: mac")
            }
            mac = parsed
        }
        try checkAllowlist()
    }

    /// A sysctl map; the same key twice is refused, as the reference does.
    private static func sysctls(_ value: JSONValue?, key: String) throws -> [(key: String, value: String)] {
        guard let value else { return [] }
        guard case .object(let object) = value else {
            throw CNIError.invalidConfig("\(key) must be an object of strings")
        }
        var out: [(key: String, value: String)] = []
        for member in object.members {
            guard case .string(let text) = member.value else {
                throw CNIError.invalidConfig("\(key).\(member.key) must be a string")
            }
            if out.contains(where: { $0.key == member.key }) {
                throw CNIError.invalidConfig("duplicated sysctl keys are not allowed")
            }
            out.append((member.key, text))
        }
        return out
    }

    private static func positive(_ value: Int?, key: String, allowZero: Bool = false) throws -> UInt32? {
        guard let value, value != 0 || allowZero else { return nil }
        guard value >= 0, value <= Int(UInt32.max) else { throw CNIError.invalidConfig("invalid \(key) \(value)") }
        return UInt32(value)
    }

    /// With `/etc/cni/tuning/allowlist.conf` present, every sysctl key must match one of its
    /// regular expressions (one per line).
    private func checkAllowlist() throws(CNIError) {
        guard !sysctl.isEmpty, let bytes = try? TuningFiles.read(TuningConfig.allowlist) else { return }
        let patterns = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
            .map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
        for (key, _) in sysctl {
            let allowed = patterns.contains { pattern in
                guard let regex = try? Regex(pattern) else { return false }
                return key.firstMatch(of: regex) != nil
            }
            if !allowed {
                throw .invalidConfig(
                    "Sysctl \(key) is not allowed. Only the following sysctls are allowed: [\(patterns.joined(separator: " "))]"
                )
            }
        }
    }

    /// `/proc/sys/...` for a key: dots become slashes, then the first `IFNAME` becomes the
    /// interface (in that order, so names with dots such as `eth0.100` work).
    static func path(of key: String, ifname: String) throws(CNIError) -> String {
        var slashed = String(key.map { $0 == "." ? "/" : $0 })
        if let range = slashed.firstRange(of: "IFNAME") { slashed.replaceSubrange(range, with: ifname) }
        let path = "/proc/sys/" + slashed
        guard path.hasPrefix("/proc/sys/net/"), !slashed.contains("..") else {
            throw .invalidConfig("invalid net sysctl key: \"\(slashed)\"")
        }
        return path
    }

    var changesLink: Bool { mac != nil || mtu != nil || promisc || allMulticast != nil || txQueueLength != nil }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s = s.dropFirst() }
        while let c = s.last, c.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
