/// A result that could not be read: wrong shape, bad address, or an unknown version.
public struct ResultDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

extension CNIResult {
    /// Reads a result in any family and converts it to the 1.1.0 model.
    ///
    /// - Parameters:
    ///   - value: The result object.
    ///   - defaultVersion: The version to assume when the result carries no `cniVersion`
    ///     (libcni and Go plugins use the config's version).
    public init(json value: JSONValue, defaultVersion: String) throws(ResultDecodingError) {
        guard case .object(let object) = value else {
            throw ResultDecodingError(message: "result is not a JSON object")
        }
        let fields = JSONFields(object, typeName: "Result")
        let version: String
        do {
            version = try fields.string("cniVersion").flatMap { $0.isEmpty ? nil : $0 } ?? defaultVersion
        } catch { throw ResultDecodingError(message: error.message) }
        guard let family = SpecVersion.family(of: version) else {
            throw ResultDecodingError(message: "unsupported CNI result version \"\(version)\"")
        }
        do {
            switch family {
            case .v020: self = try CNIResult.decode020(fields, version: version)
            case .v040, .v100: self = try CNIResult.decodeCurrent(fields, version: version)
            }
        } catch let error as JSONTypeError {
            throw ResultDecodingError(message: error.message)
        } catch let error as ResultDecodingError {
            throw error
        } catch {
            throw ResultDecodingError(message: "\(error)")
        }
    }

    private static func decodeCurrent(_ f: JSONFields, version: String) throws -> CNIResult {
        var result = CNIResult(cniVersion: version)
        for item in try f.array("interfaces") ?? [] {
            let i = try fieldsOf(item, "Interface")
            result.interfaces.append(
                Interface(
                    name: try i.string("name") ?? "", mac: try i.string("mac") ?? "", mtu: try i.int("mtu") ?? 0,
                    sandbox: try i.string("sandbox") ?? "", socketPath: try i.string("socketPath") ?? "",
                    pciID: try i.string("pciID") ?? ""))
        }
        for item in try f.array("ips") ?? [] {
            let i = try fieldsOf(item, "IPConfig")
            let index = try i.int("interface")
            if let index, index < 0 { throw ResultDecodingError(message: "invalid interface index \(index)") }
            result.ips.append(
                IPConfig(
                    interface: index, address: try prefix(i.string("address"), "address"),
                    gateway: try address(i.string("gateway"), "gateway")))
        }
        result.routes = try (f.array("routes") ?? []).map { item throws in try route(item) }
        if let d = try f.object("dns", typeName: "DNS") { result.dns = try dns(d) }
        return result
    }

    private static func decode020(_ f: JSONFields, version: String) throws -> CNIResult {
        var result = CNIResult(cniVersion: version)
        var routes: [Route] = []
        for key in ["ip4", "ip6"] {
            guard let block = try f.object(key, typeName: "IPConfig") else { continue }
            result.ips.append(
                IPConfig(
                    address: try prefix(block.string("ip"), "ip"),
                    gateway: try address(block.string("gateway"), "gateway")))
            routes += try (block.array("routes") ?? []).map { item throws in try route(item) }
        }
        result.routes = routes
        if let d = try f.object("dns", typeName: "DNS") { result.dns = try dns(d) }
        return result
    }

    private static func fieldsOf(_ value: JSONValue, _ typeName: String) throws -> JSONFields {
        guard case .object(let o) = value else {
            throw ResultDecodingError(
                message: "json: cannot unmarshal \(value.goKind) into Go value of type \(typeName)")
        }
        return JSONFields(o, typeName: typeName)
    }

    /// Reads one route object (`{"dst": ..., "gw": ...}` plus 1.1.0 attributes), as configs
    /// such as IPAM `routes` write them.
    public static func decodeRoute(_ value: JSONValue) throws(ResultDecodingError) -> Route {
        do { return try route(value) } catch let error as JSONTypeError {
            throw ResultDecodingError(message: error.message)
        } catch let error as ResultDecodingError { throw error } catch {
            throw ResultDecodingError(message: "\(error)")
        }
    }

    /// Reads a `dns` object.
    public static func decodeDNS(_ fields: JSONFields) throws(ResultDecodingError) -> DNS {
        do { return try dns(fields) } catch let error as JSONTypeError {
            throw ResultDecodingError(message: error.message)
        } catch { throw ResultDecodingError(message: "\(error)") }
    }

    private static func route(_ value: JSONValue) throws -> Route {
        let r = try fieldsOf(value, "Route")
        // The kernel holds these in 32 bits (scope in 8), so a value outside that range can
        // never be installed: refuse it here, by name, rather than trap converting it later.
        func bounded(_ key: String, _ limit: Int = Int(UInt32.max)) throws -> Int? {
            guard let v = try r.int(key) else { return nil }
            guard (0...limit).contains(v) else {
                throw ResultDecodingError(message: "route \(key) \(v) must be between 0 and \(limit)")
            }
            return v
        }
        return Route(
            dst: try prefix(r.string("dst"), "dst"), gw: try address(r.string("gw"), "gw"),
            mtu: try bounded("mtu") ?? 0, advmss: try bounded("advmss") ?? 0, priority: try bounded("priority") ?? 0,
            table: try bounded("table"), scope: try bounded("scope", 255))
    }

    private static func dns(_ d: JSONFields) throws -> DNS {
        DNS(
            nameservers: try d.stringArray("nameservers") ?? [], domain: try d.string("domain") ?? "",
            search: try d.stringArray("search") ?? [], options: try d.stringArray("options") ?? [])
    }

    private static func prefix(_ text: String?, _ key: String) throws -> IPPrefix {
        guard let text, let p = IPPrefix(text) else {
            throw ResultDecodingError(message: "invalid CIDR address: \(text ?? "") (\(key))")
        }
        return p
    }

    private static func address(_ text: String?, _ key: String) throws -> IPAddress? {
        guard let text, !text.isEmpty else { return nil }
        guard let ip = IPAddress(text) else {
            throw ResultDecodingError(message: "invalid IP address: \(text) (\(key))")
        }
        return ip
    }
}
