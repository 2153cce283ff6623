import CNISkeleton
import PluginSupport

/// The bridge plugin's configuration, decoded with Go's rules and validated up front so a
/// bad key fails before anything is created (code 7, naming the key).
struct BridgeConfig {
    var bridge = "cni0"
    var isGateway = false
    var isDefaultGateway = false
    var forceAddress = false
    var ipMasq = false
    var ipMasqBackend: String?
    var nonMasqueradeCIDRs: [IPPrefix] = []
    var mtu: UInt32?
    var hairpinMode = false
    var promiscMode = false
    var vlan = 0
    var vlanTrunk: [Int] = []
    var preserveDefaultVlan = false
    var macSpoofCheck = false
    var enableDAD = false
    var disableContainerInterface = false
    var portIsolation = false
    var ipamType = ""
    var dns: CNIResult.DNS?
    var mac: MACAddress?

    init(_ request: CNIRequest) throws(CNIError) {
        let f = request.config.fields
        do {
            bridge = try f.string("bridge").flatMap { $0.isEmpty ? nil : $0 } ?? "cni0"
            isDefaultGateway = try f.bool("isDefaultGateway") ?? false
            isGateway = try f.bool("isGateway") ?? false || isDefaultGateway
            forceAddress = try f.bool("forceAddress") ?? false
            ipMasq = try f.bool("ipMasq") ?? false
            ipMasqBackend = try f.string("ipMasqBackend")
            hairpinMode = try f.bool("hairpinMode") ?? false
            promiscMode = try f.bool("promiscMode") ?? false
            vlan = try f.int("vlan") ?? 0
            preserveDefaultVlan = try f.bool("preserveDefaultVlan") ?? false
            macSpoofCheck = try f.bool("macspoofchk") ?? false
            enableDAD = try f.bool("enabledad") ?? false
            disableContainerInterface = try f.bool("disableContainerInterface") ?? false
            portIsolation = try f.bool("portIsolation") ?? false
            if let value = try f.int("mtu"), value != 0 {
                guard (68...65535).contains(value) else {
                    throw CNIError.invalidConfig("invalid mtu \(value): must be between 68 and 65535")
                }
                mtu = UInt32(value)
            }
            vlanTrunk = try BridgeConfig.trunk(f.array("vlanTrunk") ?? [])
            if let d = try f.object("dns", typeName: "DNS") {
                let parsed = try CNIResult.decodeDNS(d)
                if !parsed.isEmpty { dns = parsed }
            }
        } catch {
            throw CNIError.decodingConfig(error)
        }
        ipamType = try request.config.ipamType()
        nonMasqueradeCIDRs = try Masquerade.exemptions(request.config)
        mac = try BridgeConfig.mac(request)
        try validate()
    }

    private func validate() throws(CNIError) {
        do { try Validation.validateInterfaceName(bridge) } catch {
            throw .invalidConfig("invalid bridge name \"\(bridge)\": \(error.msg)", details: "key: bridge")
        }
        guard (0...4094).contains(vlan) else {
            throw .invalidConfig("invalid VLAN ID \(vlan) (must be between 0 and 4094)", details: "key: vlan")
        }
        if !ipamType.isEmpty && disableContainerInterface {
            throw .invalidConfig("cannot use IPAM when DisableContainerInterface flag is set")
        }
        if hairpinMode && promiscMode {
            throw .invalidConfig("cannot set hairpin mode and promiscuous mode at the same time")
        }
        if let backend = ipMasqBackend, !["", "iptables", "nftables"].contains(backend) {
            throw .invalidConfig("unknown ipmasq backend \"\(backend)\"", details: "key: ipMasqBackend")
        }
    }

    /// The trunk VLAN IDs from `[{"id": n} | {"minID": a, "maxID": b}]`.
    private static func trunk(_ entries: [JSONValue]) throws -> [Int] {
        var ids: [Int] = []
        for entry in entries {
            guard case .object(let object) = entry else {
                throw CNIError.invalidConfig("incorrect trunk id parameter", details: "key: vlanTrunk")
            }
            let f = JSONFields(object, typeName: "VlanTrunk")
            let min = try f.int("minID"), max = try f.int("maxID")
            if min != nil || max != nil {
                guard let min else {
                    throw CNIError.invalidConfig(
                        "minID and maxID should be configured simultaneously, minID is missing",
                        details: "key: vlanTrunk")
                }
                guard let max else {
                    throw CNIError.invalidConfig(
                        "minID and maxID should be configured simultaneously, maxID is missing",
                        details: "key: vlanTrunk")
                }
                guard (1...4094).contains(min) else {
                    throw CNIError.invalidConfig("incorrect trunk minID parameter", details: "key: vlanTrunk")
                }
                guard (1...4094).contains(max) else {
                    throw CNIError.invalidConfig("incorrect trunk maxID parameter", details: "key: vlanTrunk")
                }
                guard min <= max else {
                    throw CNIError.invalidConfig(
                        "minID is greater than maxID in trunk parameter", details: "key: vlanTrunk")
                }
                ids += Array(min...max)
            }
            if let id = try f.int("id") {
                guard (1...4094).contains(id) else {
                    throw CNIError.invalidConfig("incorrect trunk id parameter", details: "key: vlanTrunk")
                }
                ids.append(id)
            }
        }
        return ids
    }

    /// The container MAC: runtimeConfig `mac`, then `args.cni.mac`, then CNI_ARGS `MAC`.
    private static func mac(_ request: CNIRequest) throws(CNIError) -> MACAddress? {
        var text: String? = nil
        let runtime = try request.config.runtimeConfig()
        let args = try request.config.args()
        do {
            text = try runtime?.string("mac")
            if text == nil { text = try args?.object("cni", typeName: "Args")?.string("mac") }
        } catch { throw .invalidConfig(error.message) }
        if text == nil { text = try request.args.value("MAC", known: ["MAC"]) }
        guard let text, !text.isEmpty else { return nil }
        guard let mac = MACAddress(text) else {
            throw .invalidConfig("invalid MAC address \"\(text)\"", details: "key: mac")
        }
        return mac
    }

    var usesVlans: Bool { vlan != 0 || !vlanTrunk.isEmpty }
}
