import NetAddress

/// `FRA_*` attributes of routing rules, from `<linux/fib_rules.h>`.
struct RuleAttribute: AttributeType {
    let rawValue: UInt16
    init(rawValue: UInt16) { self.rawValue = rawValue }
    static let dst = RuleAttribute(rawValue: 1)
    static let src = RuleAttribute(rawValue: 2)
    static let priority = RuleAttribute(rawValue: 6)
    static let table = RuleAttribute(rawValue: 15)
}

/// A policy routing rule (`ip rule`), for source-based routing: traffic from `source`
/// looks up `table`.
public struct RuleSpec: Sendable, Equatable {
    public var family: AddressFamily
    /// `from PREFIX`; nil matches every source.
    public var source: IPPrefix?
    /// `to PREFIX`; nil matches every destination.
    public var destination: IPPrefix?
    public var table: UInt32
    public var priority: UInt32?

    public init(
        family: AddressFamily, source: IPPrefix? = nil, destination: IPPrefix? = nil, table: UInt32,
        priority: UInt32? = nil
    ) {
        self.family = family
        self.source = source
        self.destination = destination
        self.table = table
        self.priority = priority
    }

    /// Parses an `RTM_NEWRULE` payload (`struct fib_rule_hdr` and `FRA_*` attributes).
    public init(payload: [UInt8]) throws(NetlinkError) {
        guard payload.count >= 12 else { throw NetlinkError.malformed("short fib_rule_hdr") }
        self.init(family: AddressFamily(rawValue: payload[0]), table: UInt32(payload[4]))
        for attribute in try AttributeReader.read(payload.dropFirst(12)) {
            switch RuleAttribute(rawValue: attribute.type) {
            case .dst:
                destination = IPAddress(bytes: attribute.payload).map {
                    .init(address: $0, prefixLength: Int(payload[1]))
                }
            case .src:
                source = IPAddress(bytes: attribute.payload).map { .init(address: $0, prefixLength: Int(payload[2])) }
            case .priority: priority = attribute.u32
            case .table: table = attribute.u32 ?? table
            default: break
            }
        }
    }

    /// `FR_ACT_TO_TBL` on add; the delete request leaves the action as a wildcard, as iproute2 does.
    func payload(adding: Bool) -> [UInt8] {
        var w = AttributeWriter()
        w.header(
            [
                family.rawValue, UInt8(clamping: destination?.boundedLength ?? 0),
                UInt8(clamping: source?.boundedLength ?? 0), 0, table < 256 ? UInt8(table) : 0, 0, 0, adding ? 1 : 0,
            ] + AttributeWriter.encode(UInt32(0)))
        if let destination { w.bytes(RuleAttribute.dst, destination.address.bytes) }
        if let source { w.bytes(RuleAttribute.src, source.address.bytes) }
        if let priority { w.u32(RuleAttribute.priority, priority) }
        if table >= 256 { w.u32(RuleAttribute.table, table) }
        return w.bytes
    }
}

/// Neighbour states (`NUD_*`).
public struct NeighbourState: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let incomplete = NeighbourState(rawValue: 0x01)
    public static let reachable = NeighbourState(rawValue: 0x02)
    public static let stale = NeighbourState(rawValue: 0x04)
    public static let failed = NeighbourState(rawValue: 0x20)
    public static let noARP = NeighbourState(rawValue: 0x40)
    public static let permanent = NeighbourState(rawValue: 0x80)
}

/// A neighbour (ARP / NDP) entry.
public struct NeighbourSpec: Sendable, Equatable {
    public var index: Int32
    public var address: IPAddress
    public var hardwareAddress: MACAddress?
    public var state: NeighbourState

    public init(
        index: Int32, address: IPAddress, hardwareAddress: MACAddress? = nil, state: NeighbourState = .permanent
    ) {
        self.index = index
        self.address = address
        self.hardwareAddress = hardwareAddress
        self.state = state
    }

    static let headerSize = 12

    var payload: [UInt8] {
        var w = AttributeWriter()
        let family: AddressFamily = address.isV4 ? .inet : .inet6
        w.header(
            [family.rawValue, 0, 0, 0] + AttributeWriter.encode(index) + AttributeWriter.encode(state.rawValue) + [
                0, 0,
            ])
        w.bytes(NeighbourAttribute.dst, address.bytes)
        if let hardwareAddress { w.bytes(NeighbourAttribute.lladdr, hardwareAddress.bytes) }
        return w.bytes
    }

    /// Parses an `RTM_NEWNEIGH` payload.
    public init(payload: [UInt8]) throws(NetlinkError) {
        let bytes = payload[...]
        guard let index: Int32 = FieldReader.integer(bytes, at: 4),
            let state: UInt16 = FieldReader.integer(bytes, at: 8)
        else {
            throw NetlinkError.malformed("short ndmsg")
        }
        let attributes = try AttributeReader.read(bytes.dropFirst(NeighbourSpec.headerSize))
        guard
            let address = attributes.first(where: { $0.is(NeighbourAttribute.dst) }).flatMap({
                IPAddress(bytes: $0.payload)
            })
        else { throw NetlinkError.malformed("neighbour without an IP address") }
        self.init(index: index, address: address, state: NeighbourState(rawValue: state))
        if let lladdr = attributes.first(where: { $0.is(NeighbourAttribute.lladdr) }) {
            hardwareAddress = MACAddress(bytes: lladdr.payload)
        }
    }
}

struct NeighbourAttribute: AttributeType {
    let rawValue: UInt16
    init(rawValue: UInt16) { self.rawValue = rawValue }
    static let dst = NeighbourAttribute(rawValue: 1)
    static let lladdr = NeighbourAttribute(rawValue: 2)
}

extension RouteNetlink {
    /// Every rule of `family`. `RTM_GETRULE` with `NLM_F_DUMP`.
    public func rules(family: AddressFamily) throws(NetlinkError) -> [RuleSpec] {
        let request = [family.rawValue] + [UInt8](repeating: 0, count: 11)
        var out: [RuleSpec] = []
        for message in try connection.dump(.getRule, payload: request) where message.type == .newRule {
            out.append(try RuleSpec(payload: message.payload))
        }
        return out
    }

    /// Adds a rule. The corresponding kernel message is `RTM_NEWRULE`.
    public func addRule(_ rule: RuleSpec) throws(NetlinkError) {
        try connection.acknowledged(.newRule, flags: [.create, .exclusive], payload: rule.payload(adding: true))
    }

    /// Deletes a rule; a missing one fails with `ENOENT`. The corresponding kernel message is `RTM_DELRULE`.
    public func deleteRule(_ rule: RuleSpec) throws(NetlinkError) {
        try connection.acknowledged(.delRule, payload: rule.payload(adding: false))
    }

    /// Adds or replaces a neighbour entry. `RTM_NEWNEIGH` with `NLM_F_CREATE | NLM_F_EXCL`.
    public func addNeighbour(_ neighbour: NeighbourSpec) throws(NetlinkError) {
        try connection.acknowledged(.newNeighbour, flags: [.create, .exclusive], payload: neighbour.payload)
    }

    /// Deletes a neighbour entry. The corresponding kernel message is `RTM_DELNEIGH`.
    public func deleteNeighbour(_ neighbour: NeighbourSpec) throws(NetlinkError) {
        var key = neighbour
        key.hardwareAddress = nil
        try connection.acknowledged(.delNeighbour, payload: key.payload)
    }

    /// The neighbour entries of `family`. `RTM_GETNEIGH` with `NLM_F_DUMP`.
    public func neighbours(family: AddressFamily) throws(NetlinkError) -> [NeighbourSpec] {
        let request = [family.rawValue] + [UInt8](repeating: 0, count: NeighbourSpec.headerSize - 1)
        var out: [NeighbourSpec] = []
        for message in try connection.dump(.getNeighbour, payload: request) where message.type == .newNeighbour {
            // Entries without an IP address (a bridge's fdb in an unspecified-family dump) are not neighbours.
            guard let entry = try? NeighbourSpec(payload: message.payload) else { continue }
            out.append(entry)
        }
        return out
    }
}
