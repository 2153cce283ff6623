import CNISkeleton

/// One entry of runtimeConfig `portMappings` (capability `portMappings`). Keys match
/// case-insensitively: containerd sends `HostPort`, podman `hostPort`.
struct PortMapping: Equatable {
    var hostPort: UInt16
    var containerPort: UInt16
    /// IANA number: 6 tcp, 17 udp, 132 sctp.
    var protocolNumber: UInt8
    var hostIP: IPAddress?
}

/// The portmap configuration. Masquerading and DNAT are always nftables (table
/// `cni_hostport`); `backend: "iptables"` and the iptables-only keys are accepted for
/// compatibility and ignored.
struct PortmapConfig {
    var snat = true
    var masqAll = false
    var mappings: [PortMapping] = []

    init(_ request: CNIRequest) throws(CNIError) {
        let f = request.config.fields
        do {
            snat = try f.bool("snat") ?? true
            masqAll = try f.bool("masqAll") ?? false
            if let backend = try f.string("backend"), !["", "iptables", "nftables"].contains(backend) {
                throw CNIError.invalidConfig(
                    "failed to parse config: unrecognized backend \"\(backend)\"", details: "key: backend")
            }
            let bit = try f.int("markMasqBit")
            if bit != nil, try f.string("externalSetMarkChain") != nil {
                throw CNIError.invalidConfig(
                    "failed to parse config: Cannot specify externalSetMarkChain and markMasqBit")
            }
            if let bit, !(0...31).contains(bit) {
                throw CNIError.invalidConfig(
                    "failed to parse config: MasqMarkBit must be between 0 and 31", details: "key: markMasqBit")
            }
            for key in ["conditionsV4", "conditionsV6"] where !(try f.stringArray(key) ?? []).isEmpty {
                throw CNIError.invalidConfig(
                    "failed to parse config: \(key) is not supported: swift-cni builds rules without nft's parser",
                    details: "key: \(key)")
            }
            mappings = try PortmapConfig.mappings(request.config.runtimeConfig()?.array("portMappings") ?? [])
        } catch {
            throw CNIError.decodingConfig(error, prefix: "failed to parse config")
        }
    }

    private static func mappings(_ values: [JSONValue]) throws -> [PortMapping] {
        try values.map { value throws -> PortMapping in
            guard case .object(let object) = value else {
                throw CNIError.invalidConfig("failed to parse config: a port mapping must be an object")
            }
            let f = JSONFields(object, typeName: "PortMapEntry")
            let container = try f.int("containerPort") ?? 0
            let host = try f.int("hostPort") ?? 0
            guard container > 0, container <= 65535 else {
                throw CNIError.invalidConfig("failed to parse config: Invalid container port number: \(container)")
            }
            guard host > 0, host <= 65535 else {
                throw CNIError.invalidConfig("failed to parse config: Invalid host port number: \(host)")
            }
            let name = (try f.string("protocol") ?? "tcp").lowercased()
            guard let number = ["tcp": 6, "udp": 17, "sctp": 132][name.isEmpty ? "tcp" : name] else {
                throw CNIError.invalidConfig(
                    "failed to parse config: unsupported protocol \"\(name)\"", details: "key: portMappings.protocol")
            }
            var hostIP: IPAddress? = nil
            if let text = try f.string("hostIP"), !text.isEmpty {
                guard let ip = IPAddress(text) else {
                    throw CNIError.invalidConfig("failed to parse config: invalid hostIP \"\(text)\"")
                }
                hostIP = ip
            }
            return PortMapping(
                hostPort: UInt16(host), containerPort: UInt16(container), protocolNumber: UInt8(number), hostIP: hostIP)
        }
    }

    /// The container's first IPv4 and first IPv6 address from prevResult, skipping addresses
    /// of host-side interfaces or of another interface, as the reference chooses them.
    static func containerAddresses(_ result: CNIResult, ifname: String) -> [IPAddress] {
        var v4: IPAddress?, v6: IPAddress?
        for ip in result.ips {
            if let index = ip.interface, index < result.interfaces.count,
                result.interfaces[index].name != ifname || result.interfaces[index].sandbox.isEmpty
            {
                continue
            }
            let address = ip.address.address
            if address.isV4 { v4 = v4 ?? address } else { v6 = v6 ?? address }
        }
        return [v4, v6].compactMap { $0 }
    }
}
