import CNISkeleton

/// The `ipam` section of the `static` plugin with runtime inputs applied, highest priority
/// first: runtimeConfig `ips` replaces every address, then `args.cni.ips`, otherwise the
/// configured `addresses` plus CNI_ARGS `IP=` (with `GATEWAY=` attached by subnet).
public struct StaticConfig: Sendable {
    public struct Address: Sendable, Equatable {
        public var address: IPPrefix
        public var gateway: IPAddress?
    }

    public var addresses: [Address]
    public var routes: [CNIResult.Route]
    public var dns: CNIResult.DNS

    public init(_ config: NetworkConfig, args: CNIArgs) throws(CNIError) {
        guard let ipam = try config.ipam() else { throw .invalidConfig("IPAM config missing 'ipam' key") }
        routes = try HostLocalConfig.routes(ipam)
        let dnsFields: JSONFields?
        do { dnsFields = try ipam.object("dns", typeName: "DNS") } catch {
            throw .invalidConfig("ipam.dns: \(error.message)")
        }
        if let dnsFields {
            do { dns = try CNIResult.decodeDNS(dnsFields) } catch { throw .invalidConfig("ipam.dns: \(error.message)") }
        } else {
            dns = CNIResult.DNS()
        }
        addresses = try StaticConfig.configured(ipam)
        addresses += try StaticConfig.fromArgs(args, onto: addresses)
        let argsIPs: [String]?
        let runtimeIPs: [String]?
        let argsObject = try config.args()
        let runtime = try config.runtimeConfig()
        do {
            argsIPs = try argsObject?.object("cni", typeName: "Args")?.stringArray("ips")
            runtimeIPs = try runtime?.stringArray("ips")
        } catch { throw .invalidConfig("\(error.message)") }
        if let argsIPs, !argsIPs.isEmpty { addresses = try StaticConfig.cidrs(argsIPs, key: "args.cni.ips") }
        if let runtimeIPs, !runtimeIPs.isEmpty {
            addresses = try StaticConfig.cidrs(runtimeIPs, key: "runtimeConfig.ips")
        }
        let v4 = addresses.filter { $0.address.address.isV4 }.count
        if v4 > 1 || addresses.count - v4 > 1, SpecVersion.family(of: config.cniVersion) == .v020 {
            throw .invalidConfig("CNI version \(config.cniVersion) does not support more than 1 address per family")
        }
    }

    private static func configured(_ ipam: JSONFields) throws(CNIError) -> [Address] {
        let items: [JSONValue]
        do { items = try ipam.array("addresses") ?? [] } catch {
            throw .invalidConfig("ipam.addresses: \(error.message)")
        }
        var out: [Address] = []
        for (i, item) in items.enumerated() {
            guard case .object(let object) = item else {
                throw .invalidConfig("invalid address \(i): ipam.addresses[\(i)] must be an object")
            }
            let f = JSONFields(object, typeName: "Address")
            let text: String
            let gatewayText: String?
            do {
                text = try f.string("address") ?? ""
                gatewayText = try f.string("gateway").flatMap { $0.isEmpty ? nil : $0 }
            } catch { throw .invalidConfig("ipam.addresses[\(i)]: \(error.message)") }
            guard let prefix = IPPrefix(text) else {
                throw .invalidConfig(
                    "the 'address' field is expected to be in CIDR notation, got: '\(text)'",
                    details: "ipam.addresses[\(i)].address")
            }
            var gateway: IPAddress? = nil
            if let gatewayText {
                guard let ip = IPAddress(gatewayText) else {
                    throw .invalidConfig(
                        "invalid gateway address: \(gatewayText)", details: "ipam.addresses[\(i)].gateway")
                }
                gateway = ip
            }
            out.append(Address(address: prefix, gateway: gateway))
        }
        return out
    }

    private static func fromArgs(_ args: CNIArgs, onto existing: [Address]) throws(CNIError) -> [Address] {
        let pairs = try args.parse(known: ["IP", "GATEWAY"])
        var added: [Address] = []
        for (key, value) in pairs where key == "IP" && !value.isEmpty {
            for item in value.split(separator: ",") {
                let text = String(item).trimmingASCIIWhitespace()
                guard let prefix = IPPrefix(text) else {
                    throw .invalidConfig(
                        "the 'ip' field is expected to be in CIDR notation, got: '\(text)'", details: "CNI_ARGS IP")
                }
                added.append(Address(address: prefix))
            }
        }
        for (key, value) in pairs where key == "GATEWAY" && !value.isEmpty {
            for item in value.split(separator: ",") {
                let text = String(item).trimmingASCIIWhitespace()
                guard let gateway = IPAddress(text) else {
                    throw .invalidConfig("invalid gateway address: \(text)", details: "CNI_ARGS GATEWAY")
                }
                for i in added.indices where added[i].address.contains(gateway) { added[i].gateway = gateway }
            }
        }
        return added
    }

    private static func cidrs(_ texts: [String], key: String) throws(CNIError) -> [Address] {
        var out: [Address] = []
        for text in texts {
            guard let prefix = IPPrefix(text) else {
                throw .invalidConfig(
                    "an entry in the 'ips' field is NOT in CIDR notation, got: '\(text)'", details: key)
            }
            out.append(Address(address: prefix))
        }
        return out
    }
}

extension StaticConfig.Address {
    init(address: IPPrefix) { self.init(address: address, gateway: nil) }
}
