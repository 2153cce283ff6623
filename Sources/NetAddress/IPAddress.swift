/// An IPv4 or IPv6 address, parsed and printed as Go's `net` package does.
public enum IPAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    case v4(UInt32)
    case v6(UInt128)

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (Go `net.ParseIP`).
    /// IPv4-mapped IPv6 addresses become IPv4, as Go's `To4` treats them.
    public init?(_ text: String) {
        if text.contains(":") {
            guard let value = IPAddress.parseV6(Array(text.utf8)) else { return nil }
            if value >> 32 == 0xffff { self = .v4(UInt32(truncatingIfNeeded: value)) } else { self = .v6(value) }
        } else {
            guard let value = IPAddress.parseV4(Array(text.utf8)[...]) else { return nil }
            self = .v4(value)
        }
    }

    /// Creates an address from 4 or 16 network-order bytes.
    public init?(bytes: [UInt8]) {
        if bytes.count == 4 {
            self = .v4(bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        } else if bytes.count == 16 {
            self = .v6(bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) })
        } else {
            return nil
        }
    }

    /// True for IPv4.
    public var isV4: Bool { if case .v4 = self { return true } else { return false } }

    /// Address length in bits.
    public var bitWidth: Int { isV4 ? 32 : 128 }

    /// Network-order bytes.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let v): return (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * UInt32($0))) }
        case .v6(let v): return (0..<16).map { UInt8(truncatingIfNeeded: v >> (120 - 8 * UInt128($0))) }
        }
    }

    /// Loopback as Go's `IP.IsLoopback`: 127.0.0.0/8 or ::1.
    public var isLoopback: Bool {
        switch self {
        case .v4(let v): return v >> 24 == 127
        case .v6(let v): return v == 1
        }
    }

    public var description: String {
        switch self {
        case .v4(let v):
            return "\(v >> 24).\(v >> 16 & 0xff).\(v >> 8 & 0xff).\(v & 0xff)"
        case .v6(let v):
            return IPAddress.formatV6(v)
        }
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        switch (a, b) {
        case (.v4(let x), .v4(let y)): return x < y
        case (.v6(let x), .v6(let y)): return x < y
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        }
    }

    /// Four dotted decimal fields of 1-3 digits, no leading zero, each at most 255. One pass
    /// over the bytes: a split into fields allocated an array on every parse.
    private static func parseV4(_ s: ArraySlice<UInt8>) -> UInt32? {
        var (value, fields, field, digits): (UInt32, Int, UInt32, Int) = (0, 0, 0, 0)
        var leadingZero = false
        for byte in s {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, fields < 3 else { return nil }
                (value, fields, field, digits, leadingZero) = (value << 8 | field, fields + 1, 0, 0, false)
                continue
            }
            // A digit after a field's leading zero ("01") is refused, as is a fourth digit.
            guard byte >= 48, byte <= 57, digits < 3, !leadingZero else { return nil }
            if digits == 0 { leadingZero = byte == 48 }
            (field, digits) = (field * 10 + UInt32(byte - 48), digits + 1)
            guard field <= 255 else { return nil }
        }
        guard digits > 0, fields == 3 else { return nil }
        return value << 8 | field
    }

    private static func parseV6(_ s: [UInt8]) -> UInt128? {
        var groups: [UInt16] = []
        var gap: Int? = nil
        var i = 0
        if s.starts(with: [58, 58]) { gap = 0; i = 2; if s.count == 2 { return 0 } }
        while i < s.count {
            var j = i
            while j < s.count, s[j] != UInt8(ascii: ":") { j += 1 }
            let field = s[i..<j]
            if field.contains(UInt8(ascii: ".")) {
                guard j == s.count, groups.count <= 6, let v4 = parseV4(field) else { return nil }
                groups.append(UInt16(v4 >> 16))
                groups.append(UInt16(v4 & 0xffff))
                i = j
                break
            }
            guard !field.isEmpty, field.count <= 4 else { return nil }
            var g: UInt16 = 0
            for c in field {
                guard let d = hexValue(c) else { return nil }
                g = g << 4 | UInt16(d)
            }
            groups.append(g)
            if j == s.count { i = j; break }
            if j + 1 < s.count, s[j + 1] == UInt8(ascii: ":") {
                guard gap == nil else { return nil }
                gap = groups.count
                i = j + 2
                if i == s.count { break }
            } else {
                i = j + 1
                guard i < s.count else { return nil }
            }
        }
        if let gap {
            guard groups.count < 8 else { return nil }
            groups.insert(contentsOf: [UInt16](repeating: 0, count: 8 - groups.count), at: gap)
        }
        guard groups.count == 8 else { return nil }
        return groups.reduce(UInt128(0)) { $0 << 16 | UInt128($1) }
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }

    private static func formatV6(_ v: UInt128) -> String {
        let groups = (0..<8).map { UInt16(truncatingIfNeeded: v >> (112 - 16 * UInt128($0))) }
        // Longest run of two or more zero groups, first one on a tie (RFC 5952, as Go).
        var bestStart = -1, bestLen = 1, runStart = -1
        for i in 0...8 {
            if i < 8, groups[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                if i - runStart > bestLen { bestStart = runStart; bestLen = i - runStart }
                runStart = -1
            }
        }
        var out = ""
        var i = 0
        while i < 8 {
            if i == bestStart {
                out += "::"
                i += bestLen
                continue
            }
            if !out.isEmpty, !out.hasSuffix(":") { out += ":" }
            out += String(groups[i], radix: 16)
            i += 1
        }
        return out
    }
}

/// An address with a prefix length, e.g. `10.22.0.7/24` (Go `net.IPNet` holding a host IP).
public struct IPPrefix: Sendable, Hashable, CustomStringConvertible {
    public var address: IPAddress
    public var prefixLength: Int

    public init(address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Parses `ip/len` as Go's `net.ParseCIDR`, keeping the host part of the address.
    public init?(_ text: String) {
        guard let slash = text.lastIndex(of: "/") else { return nil }
        let lenText = text[text.index(after: slash)...]
        guard let address = IPAddress(String(text[..<slash])),
            !lenText.isEmpty, lenText.count <= 3, lenText.allSatisfy({ $0.isASCII && $0.isNumber }),
            let len = Int(lenText)
        else { return nil }
        let textIsV6 = text[..<slash].contains(":")
        let width = textIsV6 ? 128 : 32
        guard len <= width else { return nil }
        self.address = address
        if textIsV6 && address.isV4 {
            // A v4-mapped address keeps Go's 4-byte view only with a mask covering the prefix.
            guard len >= 96 else { return nil }
            self.prefixLength = len - 96
        } else {
            self.prefixLength = len
        }
    }

    /// The network address (host bits cleared).
    public var network: IPAddress {
        let length = boundedLength
        switch address {
        case .v4(let v):
            let mask: UInt32 = length == 0 ? 0 : ~UInt32(0) << UInt32(32 - length)
            return .v4(v & mask)
        case .v6(let v):
            let mask: UInt128 = length == 0 ? 0 : ~UInt128(0) << UInt128(128 - length)
            return .v6(v & mask)
        }
    }

    /// The prefix length within `0...bitWidth`: the memberwise initialiser takes any `Int`,
    /// and no arithmetic here may trap on one.
    public var boundedLength: Int { min(max(prefixLength, 0), address.bitWidth) }

    /// True when `ip` lies inside this prefix.
    public func contains(_ ip: IPAddress) -> Bool {
        guard ip.isV4 == address.isV4 else { return false }
        return IPPrefix(address: ip, prefixLength: prefixLength).network == network
    }

    public var description: String { "\(address)/\(prefixLength)" }
}
