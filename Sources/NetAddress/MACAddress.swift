/// A link-layer address as the kernel reports it (`IFLA_ADDRESS`, `NDA_LLADDR`), printed as
/// Go's `net.HardwareAddr` does: lower-case hex bytes joined by colons, empty when there is none.
///
/// Ethernet addresses have 6 bytes; other link types report other lengths (or none, as a TUN
/// device), which are kept as they are so that a result never invents an address.
public struct MACAddress: Sendable, Hashable, CustomStringConvertible {
    /// The address bytes in wire order.
    public let bytes: [UInt8]

    /// Wraps the bytes a kernel or a packet gave.
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// Parses an Ethernet address, `aa:bb:cc:dd:ee:ff` (either case).
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            // Only hex digits: UInt8(_:radix:) alone would take a sign ("+f").
            guard part.count == 2, part.allSatisfy(\.isHexDigit), let byte = UInt8(part, radix: 16) else { return nil }
            out.append(byte)
        }
        bytes = out
    }

    /// True when the kernel reported no address.
    public var isEmpty: Bool { bytes.isEmpty }

    /// Set in the first byte of a multicast (and the broadcast) address.
    public var isMulticast: Bool { (bytes.first ?? 0) & 1 == 1 }

    public var description: String {
        var out = ""
        for (i, byte) in bytes.enumerated() {
            if i > 0 { out += ":" }
            out += MACAddress.hexDigits[Int(byte >> 4)] + MACAddress.hexDigits[Int(byte & 0xf)]
        }
        return out
    }

    private static let hexDigits = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
}
