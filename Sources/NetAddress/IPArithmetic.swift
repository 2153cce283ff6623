extension IPAddress {
    /// The address `n` steps further, wrapping inside the family.
    public func advanced(by n: Int) -> IPAddress {
        switch self {
        case .v4(let v):
            let step = UInt32(truncatingIfNeeded: n.magnitude)
            return .v4(n >= 0 ? v &+ step : v &- step)
        case .v6(let v):
            let step = UInt128(n.magnitude)
            return .v6(n >= 0 ? v &+ step : v &- step)
        }
    }

    /// `self - other` as an unsigned count: 0 across families or when `other` is higher.
    public func distance(to other: IPAddress) -> UInt128 {
        switch (self, other) {
        case (.v4(let a), .v4(let b)): return a >= b ? UInt128(a - b) : 0
        case (.v6(let a), .v6(let b)): return a >= b ? a - b : 0
        default: return 0
        }
    }

    /// `0.0.0.0` or `::`.
    public var isUnspecified: Bool {
        switch self {
        case .v4(let v): return v == 0
        case .v6(let v): return v == 0
        }
    }

    /// An IPv6 link-local unicast address (`fe80::/10`).
    public var isLinkLocalUnicast: Bool {
        guard case .v6(let v) = self else { return false }
        return v >> 118 == 0x3fa
    }

    /// This address as a one-host prefix (`/32` or `/128`).
    public var hostPrefix: IPPrefix { IPPrefix(address: self, prefixLength: bitWidth) }
}

extension IPPrefix {
    /// The prefix with its host bits cleared (`10.1.2.0/24` for `10.1.2.7/24`).
    public var masked: IPPrefix { IPPrefix(address: network, prefixLength: prefixLength) }

    /// The highest address of the prefix (for IPv4 the broadcast address).
    public var lastAddress: IPAddress {
        let length = boundedLength
        switch network {
        case .v4(let v): return .v4(v | (length == 0 ? ~0 : ~(~UInt32(0) << UInt32(32 - length))))
        case .v6(let v): return .v6(v | (length == 0 ? ~0 : ~(~UInt128(0) << UInt128(128 - length))))
        }
    }

    /// The IPv4 broadcast address the kernel is given with an address, as Go's netlink
    /// computes it: only for IPv4 prefixes shorter than /31.
    public var broadcast: IPAddress? {
        guard address.isV4, prefixLength < 31 else { return nil }
        return lastAddress
    }
}
