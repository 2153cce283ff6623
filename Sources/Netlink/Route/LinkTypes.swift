import NetAddress
/// `IFLA_*` attributes of link messages, values from `<linux/if_link.h>`.
public struct LinkAttribute: AttributeType {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let address = LinkAttribute(rawValue: 1)
    public static let broadcast = LinkAttribute(rawValue: 2)
    public static let ifname = LinkAttribute(rawValue: 3)
    public static let mtu = LinkAttribute(rawValue: 4)
    public static let link = LinkAttribute(rawValue: 5)
    public static let master = LinkAttribute(rawValue: 10)
    public static let txqlen = LinkAttribute(rawValue: 13)
    public static let operstate = LinkAttribute(rawValue: 16)
    public static let linkinfo = LinkAttribute(rawValue: 18)
    public static let netnsPID = LinkAttribute(rawValue: 19)
    public static let ifalias = LinkAttribute(rawValue: 20)
    public static let netnsFD = LinkAttribute(rawValue: 28)
    public static let extMask = LinkAttribute(rawValue: 29)
    public static let promiscuity = LinkAttribute(rawValue: 30)
    public static let linkNetnsID = LinkAttribute(rawValue: 37)
}

/// `IFLA_INFO_*` attributes nested in `IFLA_LINKINFO`.
public struct LinkInfoAttribute: AttributeType {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let kind = LinkInfoAttribute(rawValue: 1)
    public static let data = LinkInfoAttribute(rawValue: 2)
    public static let slaveKind = LinkInfoAttribute(rawValue: 4)
}

/// Interface flags (`IFF_*` from `<linux/if.h>`).
public struct LinkFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let up = LinkFlags(rawValue: 0x1)
    public static let broadcast = LinkFlags(rawValue: 0x2)
    public static let loopback = LinkFlags(rawValue: 0x8)
    public static let pointToPoint = LinkFlags(rawValue: 0x10)
    public static let running = LinkFlags(rawValue: 0x40)
    public static let noARP = LinkFlags(rawValue: 0x80)
    public static let promiscuous = LinkFlags(rawValue: 0x100)
    public static let allMulticast = LinkFlags(rawValue: 0x200)
    public static let multicast = LinkFlags(rawValue: 0x1000)
    public static let lowerUp = LinkFlags(rawValue: 0x10000)
}

/// RFC 2863 operational state (`IF_OPER_*`).
public enum OperationalState: UInt8, Sendable {
    case unknown = 0, notPresent, down, lowerLayerDown, testing, dormant, up
}

/// `struct ifinfomsg`, encoded field by field.
public struct InterfaceInfoHeader: Sendable, Equatable {
    public static let size = 16

    public var family: AddressFamily
    public var deviceType: UInt16
    public var index: Int32
    public var flags: LinkFlags
    public var change: LinkFlags

    public init(
        family: AddressFamily = .unspecified, deviceType: UInt16 = 0, index: Int32 = 0, flags: LinkFlags = [],
        change: LinkFlags = []
    ) {
        self.family = family
        self.deviceType = deviceType
        self.index = index
        self.flags = flags
        self.change = change
    }

    public var encoded: [UInt8] {
        [family.rawValue, 0] + AttributeWriter.encode(deviceType) + AttributeWriter.encode(index)
            + AttributeWriter.encode(flags.rawValue) + AttributeWriter.encode(change.rawValue)
    }

    public init(decoding bytes: ArraySlice<UInt8>) throws(NetlinkError) {
        guard bytes.count >= InterfaceInfoHeader.size,
            let type: UInt16 = FieldReader.integer(bytes, at: 2),
            let index: Int32 = FieldReader.integer(bytes, at: 4),
            let flags: UInt32 = FieldReader.integer(bytes, at: 8),
            let change: UInt32 = FieldReader.integer(bytes, at: 12)
        else { throw NetlinkError.malformed("short ifinfomsg") }
        self.init(
            family: AddressFamily(rawValue: bytes[bytes.startIndex]), deviceType: type, index: index,
            flags: LinkFlags(rawValue: flags), change: LinkFlags(rawValue: change))
    }
}

/// A network interface as the kernel reports it.
public struct Link: Sendable, Equatable {
    public var index: Int32
    public var name: String
    public var flags: LinkFlags
    public var mtu: UInt32
    /// `IFLA_TXQLEN`.
    public var txQueueLength: UInt32 = 0
    /// The hardware address, empty when the link has none.
    public var hardwareAddress: MACAddress
    /// `IFLA_INFO_KIND`, e.g. "veth" or "bridge"; nil for devices without one (lo, physical).
    public var kind: String?
    /// `IFLA_LINK`: for a veth, the peer's index (in the peer's namespace).
    public var linkIndex: Int32?
    /// Index of the master device (bridge), when enslaved.
    public var masterIndex: Int32?
    public var operationalState: OperationalState
    /// The peer's netns id for links whose other end lives elsewhere.
    public var linkNetnsID: Int32?
    /// Every attribute, for callers that need more than the fields above.
    public var attributes: [Attribute]

    /// Parses an `RTM_NEWLINK` message payload.
    public init(payload: [UInt8]) throws(NetlinkError) {
        let header = try InterfaceInfoHeader(decoding: payload[...])
        let attributes = try AttributeReader.read(payload.dropFirst(InterfaceInfoHeader.size))
        index = header.index
        flags = header.flags
        name = ""
        mtu = 0
        hardwareAddress = MACAddress(bytes: [])
        operationalState = .unknown
        self.attributes = attributes
        for attribute in attributes {
            switch LinkAttribute(rawValue: attribute.type) {
            case .ifname: name = attribute.string
            case .mtu: mtu = attribute.u32 ?? 0
            case .txqlen: txQueueLength = attribute.u32 ?? 0
            case .address: hardwareAddress = MACAddress(bytes: attribute.payload)
            case .master: masterIndex = attribute.i32
            case .link: linkIndex = attribute.i32
            case .operstate: operationalState = OperationalState(rawValue: attribute.u8 ?? 0) ?? .unknown
            case .linkNetnsID: linkNetnsID = attribute.i32
            case .linkinfo:
                kind = try attribute.nested().first { $0.is(LinkInfoAttribute.kind) }?.string
            default: break
            }
        }
    }

    public var isUp: Bool { flags.contains(.up) }

    /// `IFLA_IFALIAS`, when set.
    public var alias: String? {
        guard let value = attributes.first(where: { $0.type == LinkAttribute.ifalias.rawValue })?.string, !value.isEmpty
        else { return nil }
        return value
    }
}
