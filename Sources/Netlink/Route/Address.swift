import NetAddress

/// `IFA_*` attributes of address messages, values from `<linux/if_addr.h>`.
public struct AddressAttribute: AttributeType {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let address = AddressAttribute(rawValue: 1)
    public static let local = AddressAttribute(rawValue: 2)
    public static let label = AddressAttribute(rawValue: 3)
    public static let broadcast = AddressAttribute(rawValue: 4)
    public static let cacheInfo = AddressAttribute(rawValue: 6)
    public static let flags = AddressAttribute(rawValue: 8)
}

/// `struct ifaddrmsg`, encoded field by field.
public struct AddressHeader: Sendable, Equatable {
    public static let size = 8

    public var family: AddressFamily
    public var prefixLength: UInt8
    public var flags: UInt8
    public var scope: UInt8
    public var index: UInt32

    public init(family: AddressFamily, prefixLength: UInt8 = 0, flags: UInt8 = 0, scope: UInt8 = 0, index: UInt32 = 0) {
        self.family = family
        self.prefixLength = prefixLength
        self.flags = flags
        self.scope = scope
        self.index = index
    }

    public var encoded: [UInt8] {
        [family.rawValue, prefixLength, flags, scope] + AttributeWriter.encode(index)
    }

    public init(decoding bytes: ArraySlice<UInt8>) throws(NetlinkError) {
        guard bytes.count >= AddressHeader.size, let index: UInt32 = FieldReader.integer(bytes, at: 4) else {
            throw NetlinkError.malformed("short ifaddrmsg")
        }
        let b = bytes.startIndex
        self.init(
            family: AddressFamily(rawValue: bytes[b]), prefixLength: bytes[b + 1], flags: bytes[b + 2],
            scope: bytes[b + 3], index: index)
    }
}

/// An address assigned to a link.
public struct InterfaceAddress: Sendable, Equatable {
    public var family: AddressFamily
    public var index: UInt32
    public var prefixLength: UInt8
    public var scope: UInt8
    /// `IFA_F_*` flags, from `IFA_FLAGS` when present (it holds all 32 bits).
    public var flags: UInt32
    /// The local address (`IFA_LOCAL`, or `IFA_ADDRESS` without a peer); nil when the kernel
    /// sent neither with 4 or 16 bytes.
    public var address: IPAddress?
    public var label: String?

    /// Parses an `RTM_NEWADDR` payload.
    public init(payload: [UInt8]) throws(NetlinkError) {
        let header = try AddressHeader(decoding: payload[...])
        family = header.family
        index = header.index
        prefixLength = header.prefixLength
        scope = header.scope
        flags = UInt32(header.flags)
        address = nil
        var local: IPAddress? = nil
        for attribute in try AttributeReader.read(payload.dropFirst(AddressHeader.size)) {
            switch AddressAttribute(rawValue: attribute.type) {
            case .address: address = IPAddress(bytes: attribute.payload)
            case .local: local = IPAddress(bytes: attribute.payload)
            case .label: label = attribute.string
            case .flags: flags = attribute.u32 ?? flags
            default: break
            }
        }
        if let local { address = local }
    }

    /// The address with its prefix length.
    public var prefix: IPPrefix? { address.map { IPPrefix(address: $0, prefixLength: Int(prefixLength)) } }
}

extension RouteNetlink {
    /// The request `ip -4 addr show` (family `.inet`) sends, filtered to one link when
    /// `index` is given; strict checking lets the kernel filter by index.
    static func getAddressesRequest(family: AddressFamily, index: UInt32) -> [UInt8] {
        AddressHeader(family: family, index: index).encoded
    }

    /// The addresses of `family` on link `index` (all links when 0).
    /// The corresponding kernel message is `RTM_GETADDR` with `NLM_F_DUMP`.
    public func addresses(family: AddressFamily, index: UInt32 = 0) throws(NetlinkError) -> [InterfaceAddress] {
        let request = RouteNetlink.getAddressesRequest(family: family, index: index)
        var out: [InterfaceAddress] = []
        for message in try connection.dump(.getAddress, payload: request) where message.type == .newAddress {
            let address = try InterfaceAddress(payload: message.payload)
            // Older kernels without strict checking ignore the filter; apply it here too.
            if index == 0 || address.index == index { out.append(address) }
        }
        return out
    }
}
