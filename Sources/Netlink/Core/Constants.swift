/// The type of a netlink message (`nlmsg_type`). Values from `<linux/netlink.h>` and
/// `<linux/rtnetlink.h>`.
public struct MessageType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let noop = MessageType(rawValue: 1)
    public static let error = MessageType(rawValue: 2)
    public static let done = MessageType(rawValue: 3)
    public static let overrun = MessageType(rawValue: 4)

    public static let newLink = MessageType(rawValue: 16)
    public static let delLink = MessageType(rawValue: 17)
    public static let getLink = MessageType(rawValue: 18)
    public static let newAddress = MessageType(rawValue: 20)
    public static let delAddress = MessageType(rawValue: 21)
    public static let getAddress = MessageType(rawValue: 22)
    public static let newRoute = MessageType(rawValue: 24)
    public static let delRoute = MessageType(rawValue: 25)
    public static let getRoute = MessageType(rawValue: 26)

    public var description: String {
        switch self {
        case .newLink: return "RTM_NEWLINK"
        case .delLink: return "RTM_DELLINK"
        case .getLink: return "RTM_GETLINK"
        case .newAddress: return "RTM_NEWADDR"
        case .delAddress: return "RTM_DELADDR"
        case .getAddress: return "RTM_GETADDR"
        case .newRoute: return "RTM_NEWROUTE"
        case .delRoute: return "RTM_DELROUTE"
        case .getRoute: return "RTM_GETROUTE"
        default: return "type \(rawValue)"
        }
    }
}

/// `nlmsg_flags`. Values from `<linux/netlink.h>`.
public struct MessageFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let request = MessageFlags(rawValue: 0x01)
    public static let multi = MessageFlags(rawValue: 0x02)
    public static let ack = MessageFlags(rawValue: 0x04)
    public static let echo = MessageFlags(rawValue: 0x08)
    public static let dumpInterrupted = MessageFlags(rawValue: 0x10)
    // GET requests
    public static let root = MessageFlags(rawValue: 0x100)
    public static let match = MessageFlags(rawValue: 0x200)
    public static let dump: MessageFlags = [.root, .match]
    // NEW requests
    public static let replace = MessageFlags(rawValue: 0x100)
    public static let exclusive = MessageFlags(rawValue: 0x200)
    public static let create = MessageFlags(rawValue: 0x400)
    public static let append = MessageFlags(rawValue: 0x800)
    // ACK messages
    public static let capped = MessageFlags(rawValue: 0x100)
    public static let ackTLVs = MessageFlags(rawValue: 0x200)
}

/// A type of netlink attribute, scoped to one attribute space so that values of one
/// space cannot be passed where another is expected.
public protocol AttributeType: RawRepresentable, Sendable, Hashable where RawValue == UInt16 {}

/// Attributes of an extended ACK (`NLMSGERR_ATTR_*`).
public struct ExtAckAttribute: AttributeType {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let message = ExtAckAttribute(rawValue: 1)
    public static let offset = ExtAckAttribute(rawValue: 2)
}

/// Address families used in rtnetlink headers.
public struct AddressFamily: RawRepresentable, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let unspecified = AddressFamily(rawValue: 0)
    public static let inet = AddressFamily(rawValue: 2)
    public static let inet6 = AddressFamily(rawValue: 10)
    public static let packet = AddressFamily(rawValue: 17)
}
