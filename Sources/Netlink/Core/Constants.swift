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
    public static let setLink = MessageType(rawValue: 19)
    public static let newAddress = MessageType(rawValue: 20)
    public static let delAddress = MessageType(rawValue: 21)
    public static let getAddress = MessageType(rawValue: 22)
    public static let newRoute = MessageType(rawValue: 24)
    public static let delRoute = MessageType(rawValue: 25)
    public static let getRoute = MessageType(rawValue: 26)
    public static let newNeighbour = MessageType(rawValue: 28)
    public static let delNeighbour = MessageType(rawValue: 29)
    public static let getNeighbour = MessageType(rawValue: 30)
    public static let newRule = MessageType(rawValue: 32)
    public static let delRule = MessageType(rawValue: 33)
    public static let getRule = MessageType(rawValue: 34)
    public static let newQdisc = MessageType(rawValue: 36)
    public static let delQdisc = MessageType(rawValue: 37)
    public static let getQdisc = MessageType(rawValue: 38)
    public static let newFilter = MessageType(rawValue: 44)
    public static let delFilter = MessageType(rawValue: 45)
    public static let getFilter = MessageType(rawValue: 46)
    public static let newNetconf = MessageType(rawValue: 80)
    public static let getNetconf = MessageType(rawValue: 82)

    public var description: String {
        switch self {
        case .newLink: return "RTM_NEWLINK"
        case .delLink: return "RTM_DELLINK"
        case .getLink: return "RTM_GETLINK"
        case .setLink: return "RTM_SETLINK"
        case .newNeighbour: return "RTM_NEWNEIGH"
        case .delNeighbour: return "RTM_DELNEIGH"
        case .getNeighbour: return "RTM_GETNEIGH"
        case .newRule: return "RTM_NEWRULE"
        case .delRule: return "RTM_DELRULE"
        case .getRule: return "RTM_GETRULE"
        case .newQdisc: return "RTM_NEWQDISC"
        case .delQdisc: return "RTM_DELQDISC"
        case .getQdisc: return "RTM_GETQDISC"
        case .newFilter: return "RTM_NEWTFILTER"
        case .delFilter: return "RTM_DELTFILTER"
        case .getFilter: return "RTM_GETTFILTER"
        case .getNetconf: return "RTM_GETNETCONF"
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
    public static let bridge = AddressFamily(rawValue: 7)
    public static let packet = AddressFamily(rawValue: 17)
}
