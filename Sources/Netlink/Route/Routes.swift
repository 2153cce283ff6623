import NetAddress

/// `RTA_*` route attributes from `<linux/rtnetlink.h>`.
public struct RouteAttribute: AttributeType {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let dst = RouteAttribute(rawValue: 1)
    public static let src = RouteAttribute(rawValue: 2)
    public static let oif = RouteAttribute(rawValue: 4)
    public static let gateway = RouteAttribute(rawValue: 5)
    public static let priority = RouteAttribute(rawValue: 6)
    public static let prefsrc = RouteAttribute(rawValue: 7)
    public static let metrics = RouteAttribute(rawValue: 8)
    public static let table = RouteAttribute(rawValue: 15)
}

/// `RTAX_*` metrics nested in `RTA_METRICS`.
public struct RouteMetric: AttributeType {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let mtu = RouteMetric(rawValue: 2)
    public static let advmss = RouteMetric(rawValue: 8)
}

/// Route types (`RTN_*`).
public enum RouteType: UInt8, Sendable {
    case unspecified = 0, unicast = 1, local = 2, broadcast = 3, anycast = 4, multicast = 5, blackhole = 6,
        unreachable = 7, prohibit = 8
}

/// The main routing table.
public let mainRoutingTable: UInt32 = 254

/// A route to add, replace, delete, or one read back from the kernel.
public struct RouteSpec: Sendable, Equatable {
    /// The destination prefix: `0.0.0.0/0` or `::/0` for a default route. Sent as given, so
    /// callers pass it masked (the kernel refuses host bits).
    public var destination: IPPrefix
    public var gateway: IPAddress?
    public var preferredSource: IPAddress?
    public var outputIndex: Int32?
    /// The metric (`RTA_PRIORITY`).
    public var priority: UInt32?
    public var table: UInt32
    public var scope: Scope
    public var type: RouteType
    /// Use the gateway even if it is not on a connected subnet (`RTNH_F_ONLINK`).
    public var onLink: Bool
    public var mtu: UInt32?
    public var advmss: UInt32?
    /// `RTPROT_*`; iproute2 uses 3 (boot) for routes it adds.
    public var proto: UInt8

    public init(
        destination: IPPrefix, gateway: IPAddress? = nil, preferredSource: IPAddress? = nil,
        outputIndex: Int32? = nil, priority: UInt32? = nil, table: UInt32 = mainRoutingTable, scope: Scope = .universe,
        type: RouteType = .unicast, onLink: Bool = false, mtu: UInt32? = nil, advmss: UInt32? = nil, proto: UInt8 = 3
    ) {
        self.destination = destination
        self.gateway = gateway
        self.preferredSource = preferredSource
        self.outputIndex = outputIndex
        self.priority = priority
        self.table = table
        self.scope = scope
        self.type = type
        self.onLink = onLink
        self.mtu = mtu
        self.advmss = advmss
        self.proto = proto
    }

    public var family: AddressFamily { destination.address.isV4 ? .inet : .inet6 }

    /// The default route of a family, `0.0.0.0/0` or `::/0`.
    public static func defaultDestination(v4: Bool) -> IPPrefix {
        IPPrefix(address: v4 ? .v4(0) : .v6(0), prefixLength: 0)
    }

    static let headerSize = 12
    static let onLinkFlag: UInt32 = 4

    private func header(table: UInt8, proto: UInt8, scope: UInt8, type: UInt8) -> [UInt8] {
        [family.rawValue, UInt8(clamping: destination.boundedLength), 0, 0, table, proto, scope, type]
            + AttributeWriter.encode(onLink ? RouteSpec.onLinkFlag : 0)
    }

    /// Attribute order as iproute2 emits `ip route add DST src S via G metric M table T dev D mtu X advmss Y`.
    var addPayload: [UInt8] {
        var w = AttributeWriter()
        w.header(
            header(table: table < 256 ? UInt8(table) : 0, proto: proto, scope: scope.rawValue, type: type.rawValue))
        appendAttributes(&w)
        return w.bytes
    }

    /// iproute2's `ip route del`: wildcards for protocol, scope and type.
    var deletePayload: [UInt8] {
        var w = AttributeWriter()
        w.header(header(table: table < 256 ? UInt8(table) : 0, proto: 0, scope: Scope.nowhere.rawValue, type: 0))
        appendAttributes(&w)
        return w.bytes
    }

    private func appendAttributes(_ w: inout AttributeWriter) {
        if destination.boundedLength > 0 || !destination.address.isUnspecified {
            w.bytes(RouteAttribute.dst, destination.address.bytes)
        }
        if let preferredSource { w.bytes(RouteAttribute.prefsrc, preferredSource.bytes) }
        if let gateway { w.bytes(RouteAttribute.gateway, gateway.bytes) }
        if let priority { w.u32(RouteAttribute.priority, priority) }
        if table >= 256 { w.u32(RouteAttribute.table, table) }
        if let outputIndex { w.u32(RouteAttribute.oif, UInt32(bitPattern: outputIndex)) }
        if mtu != nil || advmss != nil {
            w.nested(RouteAttribute.metrics) { m in
                if let mtu { m.u32(RouteMetric.mtu, mtu) }
                if let advmss { m.u32(RouteMetric.advmss, advmss) }
            }
        }
    }

    /// Parses an `RTM_NEWROUTE` payload from a dump.
    public init(payload: [UInt8]) throws(NetlinkError) {
        let bytes = payload[...]
        guard payload.count >= RouteSpec.headerSize, let flags: UInt32 = FieldReader.integer(bytes, at: 8) else {
            throw NetlinkError.malformed("short rtmsg")
        }
        let v4 = payload[0] == AddressFamily.inet.rawValue
        self.init(
            destination: IPPrefix(address: v4 ? .v4(0) : .v6(0), prefixLength: Int(payload[1])),
            table: UInt32(payload[4]),
            scope: Scope(rawValue: payload[6]) ?? .universe, type: RouteType(rawValue: payload[7]) ?? .unspecified,
            onLink: flags & RouteSpec.onLinkFlag != 0, proto: payload[5])
        for attribute in try AttributeReader.read(bytes.dropFirst(RouteSpec.headerSize)) {
            switch RouteAttribute(rawValue: attribute.type) {
            case .dst: destination.address = try RouteSpec.address(attribute, v4: v4)
            case .gateway: gateway = try RouteSpec.address(attribute, v4: v4)
            case .prefsrc: preferredSource = try RouteSpec.address(attribute, v4: v4)
            case .oif: outputIndex = attribute.i32
            case .priority: priority = attribute.u32
            case .table: table = attribute.u32 ?? table
            case .metrics:
                for metric in try attribute.nested() {
                    if metric.is(RouteMetric.mtu) { mtu = metric.u32 }
                    if metric.is(RouteMetric.advmss) { advmss = metric.u32 }
                }
            default: break
            }
        }
    }

    /// An address attribute of the route's own family; anything else is a malformed reply.
    private static func address(_ attribute: Attribute, v4: Bool) throws(NetlinkError) -> IPAddress {
        guard attribute.payload.count == (v4 ? 4 : 16), let address = IPAddress(bytes: attribute.payload) else {
            throw NetlinkError.malformed("route address of \(attribute.payload.count) bytes")
        }
        return address
    }
}

extension RouteNetlink {
    /// Adds a route; an identical one already present fails with `EEXIST`.
    /// The corresponding kernel message is `RTM_NEWROUTE` with `NLM_F_CREATE | NLM_F_EXCL`.
    public func addRoute(_ route: RouteSpec) throws(NetlinkError) {
        try connection.acknowledged(.newRoute, flags: [.create, .exclusive], payload: route.addPayload)
    }

    /// Adds or replaces a route (`ip route replace`). `RTM_NEWROUTE` with `NLM_F_CREATE | NLM_F_REPLACE`.
    public func replaceRoute(_ route: RouteSpec) throws(NetlinkError) {
        try connection.acknowledged(.newRoute, flags: [.create, .replace], payload: route.addPayload)
    }

    /// Appends a route next to existing ones of the same destination (ECMP, as the reference's
    /// `RouteAdd` with `NLM_F_APPEND`). `RTM_NEWROUTE` with `NLM_F_CREATE | NLM_F_APPEND`.
    public func appendRoute(_ route: RouteSpec) throws(NetlinkError) {
        try connection.acknowledged(.newRoute, flags: [.create, .append], payload: route.addPayload)
    }

    /// Deletes a route; a missing one fails with `ESRCH`. The corresponding kernel message is `RTM_DELROUTE`.
    public func deleteRoute(_ route: RouteSpec) throws(NetlinkError) {
        try connection.acknowledged(.delRoute, payload: route.deletePayload)
    }

    /// The route the kernel would use to reach `destination` (`ip route get`).
    /// The corresponding kernel message is `RTM_GETROUTE` without `NLM_F_DUMP`.
    public func routeGet(_ destination: IPAddress) throws(NetlinkError) -> RouteSpec {
        var w = AttributeWriter()
        let family: AddressFamily = destination.isV4 ? .inet : .inet6
        w.header(
            [family.rawValue, UInt8(destination.bitWidth), 0, 0, 0, 0, 0, 0] + AttributeWriter.encode(UInt32(0)))
        w.bytes(RouteAttribute.dst, destination.bytes)
        return try RouteSpec(payload: connection.single(.getRoute, payload: w.bytes).payload)
    }

    /// Every route of `family` in every table. `RTM_GETROUTE` with `NLM_F_DUMP`.
    public func routes(family: AddressFamily) throws(NetlinkError) -> [RouteSpec] {
        let request = [family.rawValue] + [UInt8](repeating: 0, count: RouteSpec.headerSize - 1)
        var out: [RouteSpec] = []
        for message in try connection.dump(.getRoute, payload: request) where message.type == .newRoute {
            out.append(try RouteSpec(payload: message.payload))
        }
        return out
    }
}
