import CNISystem
import NetAddress

/// `IFA_F_*` address flags from `<linux/if_addr.h>`.
public struct AddressFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let noDAD = AddressFlags(rawValue: 0x02)
    public static let dadFailed = AddressFlags(rawValue: 0x08)
    public static let tentative = AddressFlags(rawValue: 0x40)
    public static let permanent = AddressFlags(rawValue: 0x80)
    public static let noPrefixRoute = AddressFlags(rawValue: 0x200)
}

/// Address scopes (`RT_SCOPE_*`), shared by addresses and routes.
public enum Scope: UInt8, Sendable {
    case universe = 0, site = 200, link = 253, host = 254, nowhere = 255
}

/// An address to add to or remove from a link (`ip addr add|del`).
public struct AddressSpec: Sendable, Equatable {
    public var index: Int32
    /// The address with its prefix length (`ip addr add 10.1.0.5/24`).
    public var address: IPPrefix
    /// The far end of a point-to-point address (`peer`).
    public var peer: IPAddress?
    public var broadcast: IPAddress?
    public var flags: AddressFlags
    public var scope: Scope

    public init(
        index: Int32, address: IPPrefix, peer: IPAddress? = nil, broadcast: IPAddress? = nil,
        flags: AddressFlags = [], scope: Scope = .universe
    ) {
        self.index = index
        self.address = address
        self.peer = peer
        self.broadcast = broadcast
        self.flags = flags
        self.scope = scope
    }

    var family: AddressFamily { address.address.isV4 ? .inet : .inet6 }

    /// The payload iproute2 sends: local, broadcast, flags, then address (or peer).
    var requestPayload: [UInt8] {
        var w = AttributeWriter()
        w.header(
            AddressHeader(
                family: family, prefixLength: UInt8(clamping: address.boundedLength), scope: scope.rawValue,
                index: UInt32(bitPattern: index)
            ).encoded)
        w.bytes(AddressAttribute.local, address.address.bytes)
        if let broadcast { w.bytes(AddressAttribute.broadcast, broadcast.bytes) }
        if !flags.isEmpty { w.u32(AddressAttribute.flags, flags.rawValue) }
        w.bytes(AddressAttribute.address, (peer ?? address.address).bytes)
        return w.bytes
    }
}

extension RouteNetlink {
    /// Adds an address. The corresponding kernel message is `RTM_NEWADDR` with
    /// `NLM_F_CREATE | NLM_F_EXCL`; an address already present fails with `EEXIST`.
    public func addAddress(_ spec: AddressSpec) throws(NetlinkError) {
        try connection.acknowledged(.newAddress, flags: [.create, .exclusive], payload: spec.requestPayload)
    }

    /// Removes an address. The corresponding kernel message is `RTM_DELADDR`; a missing
    /// address fails with `EADDRNOTAVAIL`.
    public func deleteAddress(_ spec: AddressSpec) throws(NetlinkError) {
        var plain = spec
        plain.broadcast = nil
        plain.flags = []
        try connection.acknowledged(.delAddress, payload: plain.requestPayload)
    }

    /// Waits until no IPv6 address of link `index` is tentative, polling every `interval`
    /// microseconds for at most `timeout` microseconds, as the reference's settle step does.
    /// An address whose DAD failed is an error. Returns false on timeout.
    public func waitForIPv6Settled(index: Int32, timeout: UInt32 = 5_000_000, interval: UInt32 = 50_000)
        throws(NetlinkError) -> Bool
    {
        var waited: UInt32 = 0
        while true {
            let addresses = try self.addresses(family: .inet6, index: UInt32(bitPattern: index))
            if let failed = addresses.first(where: { AddressFlags(rawValue: $0.flags).contains(.dadFailed) }) {
                throw NetlinkError(
                    kind: .kernel,
                    operation:
                        "duplicate address detection failed for \(failed.prefix.map { "\($0)" } ?? "an address") of link \(index)",
                    errno: .addressNotAvailable)
            }
            if !addresses.contains(where: { AddressFlags(rawValue: $0.flags).contains(.tentative) }) { return true }
            if waited >= timeout { return false }
            Sleep.microseconds(interval)
            waited += interval
        }
    }
}
