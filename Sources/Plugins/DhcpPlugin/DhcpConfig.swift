import CNISkeleton

/// The `ipam` keys of the dhcp plugin.
struct DhcpConfig: Sendable {
    static let defaultSocketPath = "/run/cni/dhcp.sock"

    var socketPath = defaultSocketPath
    /// Option codes for the Parameter Request List.
    var requested: [UInt8] = [1, 3]
    /// Options sent to the server: (code, literal value or the CNI_ARGS key to take it from).
    var provided: [(code: UInt8, value: String?, fromArg: String?)] = []
    /// Metric for every returned route.
    var priority = 0

    static let optionNames: [String: UInt8] = [
        "dhcp-client-identifier": 61, "subnet-mask": 1, "routers": 3, "host-name": 12,
        "user-class": 77, "vendor-class-identifier": 60,
    ]

    static func parseOption(_ text: String) throws(CNIError) -> UInt8 {
        if let code = optionNames[text] { return code }
        guard let number = Int(text), (0...255).contains(number) else {
            throw CNIError.invalidConfig(
                "Can not parse option \"\(text)\": unknown option name or code", details: "key: ipam")
        }
        return UInt8(number)
    }

    init(_ config: NetworkConfig) throws {
        guard let ipam = try config.ipam() else { return }
        do {
            if let path = try ipam.string("daemonSocketPath"), !path.isEmpty { socketPath = path }
            priority = try ipam.int("priority") ?? 0
            var skipDefault = false
            var extra: [UInt8] = []
            for entry in try Self.objects(ipam, "request") {
                if try entry.bool("skipDefault") == true { skipDefault = true }
                if let name = try entry.string("option"), !name.isEmpty { extra.append(try Self.parseOption(name)) }
            }
            requested = (skipDefault ? [] : [1, 3]) + extra.filter { !(skipDefault ? [] : [1, 3]).contains($0) }
            for entry in try Self.objects(ipam, "provide") {
                guard let name = try entry.string("option") else { continue }
                let code = try Self.parseOption(name)
                provided.append((code, try entry.string("value"), try entry.string("fromArg")))
            }
        } catch {
            throw CNIError.decodingConfig(error, prefix: "failed to load dhcp config", details: "key: ipam")
        }
    }

    private static func objects(_ fields: JSONFields, _ key: String) throws -> [JSONFields] {
        try (fields.array(key) ?? []).map { value in
            guard let object = value.objectValue else {
                throw CNIError.invalidConfig("\(key) entries must be objects", details: "key: ipam")
            }
            return JSONFields(object, typeName: key)
        }
    }

    /// The provided options with their values resolved against CNI_ARGS, each cut to 255 bytes.
    func providedOptions(args: CNIArgs) -> [(code: UInt8, value: [UInt8])] {
        let pairs = (try? args.parse(known: Set(provided.compactMap(\.fromArg)))) ?? []
        return provided.compactMap { option in
            let value = option.fromArg.flatMap { key in pairs.first { $0.key == key }?.value } ?? option.value
            guard let value, !value.isEmpty else { return nil }
            return (option.code, Array(value.utf8.prefix(255)))
        }
    }
}
