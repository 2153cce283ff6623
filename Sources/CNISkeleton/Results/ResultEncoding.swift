extension CNIResult {
    /// The result as JSON in the format of `version` (Go `types.PrintResult` conversion rules).
    ///
    /// Throws for a version with no result format, and for 0.1.0/0.2.0 when there is no IP
    /// to put in `ip4`/`ip6` (Go: `cannot convert: no valid IP addresses`).
    public func json(version: String) throws(CNIError) -> JSONValue {
        switch SpecVersion.family(of: version) {
        case .v100: return encode100(version: version)
        case .v040: return encode040(version: version)
        case .v020: return try encode020(version: version)
        case nil: throw CNIError(.incompatibleCNIVersion, "unsupported CNI result version \"\(version)\"")
        }
    }

    /// The indented JSON text that skel prints for this result in `version`.
    public func printed(version: String) throws(CNIError) -> String {
        JSONWriter.indented(try json(version: version))
    }

    private func encode100(version: String) -> JSONValue {
        var members: [(String, JSONValue)] = [("cniVersion", .string(version))]
        if !interfaces.isEmpty { members.append(("interfaces", .array(interfaces.map { $0.json(full: true) }))) }
        if !ips.isEmpty { members.append(("ips", .array(ips.map { $0.json(withVersion: false) }))) }
        if !routes.isEmpty { members.append(("routes", .array(routes.map { $0.json(full: true) }))) }
        if !dns.isEmpty { members.append(("dns", dns.json)) }
        return .object(members)
    }

    private func encode040(version: String) -> JSONValue {
        var members: [(String, JSONValue)] = [("cniVersion", .string(version))]
        if !interfaces.isEmpty { members.append(("interfaces", .array(interfaces.map { $0.json(full: false) }))) }
        if !ips.isEmpty { members.append(("ips", .array(ips.map { $0.json(withVersion: true) }))) }
        if !routes.isEmpty { members.append(("routes", .array(routes.map { $0.json(full: true) }))) }
        members.append(("dns", dns.json))
        return .object(members)
    }

    private func encode020(version: String) throws(CNIError) -> JSONValue {
        let ip4 = ips.first { $0.address.address.isV4 }
        let ip6 = ips.first { !$0.address.address.isV4 }
        guard ip4 != nil || ip6 != nil else {
            throw CNIError(.internalError, "cannot convert: no valid IP addresses")
        }
        func block(_ ip: IPConfig, v4: Bool) -> JSONValue {
            var members: [(String, JSONValue)] = [("ip", .string(ip.address.description))]
            if let gw = ip.gateway { members.append(("gateway", .string(gw.description))) }
            let family = routes.filter { $0.dst.address.isV4 == v4 }
            if !family.isEmpty { members.append(("routes", .array(family.map { $0.json(full: false) }))) }
            return .object(members)
        }
        var members: [(String, JSONValue)] = [("cniVersion", .string(version))]
        if let ip4 { members.append(("ip4", block(ip4, v4: true))) }
        if let ip6 { members.append(("ip6", block(ip6, v4: false))) }
        members.append(("dns", dns.json))
        return .object(members)
    }
}

extension CNIResult.Interface {
    func json(full: Bool) -> JSONValue {
        var m: [(String, JSONValue)] = [("name", .string(name))]
        if !mac.isEmpty { m.append(("mac", .string(mac))) }
        if full, mtu != 0 { m.append(("mtu", .int(mtu))) }
        if !sandbox.isEmpty { m.append(("sandbox", .string(sandbox))) }
        if full, !socketPath.isEmpty { m.append(("socketPath", .string(socketPath))) }
        if full, !pciID.isEmpty { m.append(("pciID", .string(pciID))) }
        return .object(m)
    }
}

extension CNIResult.IPConfig {
    func json(withVersion: Bool) -> JSONValue {
        var m: [(String, JSONValue)] = []
        if withVersion { m.append(("version", .string(address.address.isV4 ? "4" : "6"))) }
        if let interface { m.append(("interface", .int(interface))) }
        m.append(("address", .string(address.description)))
        if let gateway { m.append(("gateway", .string(gateway.description))) }
        return .object(m)
    }
}

extension CNIResult.Route {
    /// `full` keeps the 1.1.0 attributes; the 0.2.0 format keeps only dst and gw.
    func json(full: Bool) -> JSONValue {
        var m: [(String, JSONValue)] = [("dst", .string(dst.description))]
        if let gw { m.append(("gw", .string(gw.description))) }
        guard full else { return .object(m) }
        if mtu != 0 { m.append(("mtu", .int(mtu))) }
        if advmss != 0 { m.append(("advmss", .int(advmss))) }
        if priority != 0 { m.append(("priority", .int(priority))) }
        if let table { m.append(("table", .int(table))) }
        if let scope { m.append(("scope", .int(scope))) }
        return .object(m)
    }
}

extension CNIResult.DNS {
    var json: JSONValue {
        var m: [(String, JSONValue)] = []
        if !nameservers.isEmpty { m.append(("nameservers", .array(nameservers.map(JSONValue.string)))) }
        if !domain.isEmpty { m.append(("domain", .string(domain))) }
        if !search.isEmpty { m.append(("search", .array(search.map(JSONValue.string)))) }
        if !options.isEmpty { m.append(("options", .array(options.map(JSONValue.string)))) }
        return .object(m)
    }
}
