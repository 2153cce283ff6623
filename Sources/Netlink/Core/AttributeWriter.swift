/// Builds netlink payloads: fixed headers and attributes, with lengths and 4-byte alignment
/// computed here and nowhere else.
public struct AttributeWriter: Sendable {
    /// Byte order for integer attributes: rtnetlink uses the host's, nftables payloads big-endian.
    public enum ByteOrder: Sendable { case native, big }

    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// Appends raw bytes of a fixed header (e.g. `struct ifinfomsg`), padded to 4 bytes.
    public mutating func header(_ raw: [UInt8]) {
        bytes += raw
        pad()
    }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    private mutating func attribute(_ type: UInt16, _ payload: [UInt8]) {
        // nla_len is 16 bits. Nothing we send comes near it; a payload that did would get a
        // clamped length the kernel refuses (EINVAL) rather than a trap here.
        appendInteger(UInt16(clamping: 4 + payload.count), .native)
        appendInteger(type, .native)
        bytes += payload
        pad()
    }

    private mutating func appendInteger<T: FixedWidthInteger>(_ value: T, _ order: ByteOrder) {
        let v = order == .big ? value.bigEndian : value.littleEndian
        withUnsafeBytes(of: v) { bytes += $0 }
    }

    public mutating func u8<A: AttributeType>(_ type: A, _ value: UInt8) {
        attribute(type.rawValue, [value])
    }

    public mutating func u16<A: AttributeType>(_ type: A, _ value: UInt16, order: ByteOrder = .native) {
        attribute(type.rawValue, AttributeWriter.encode(value, order))
    }

    public mutating func u32<A: AttributeType>(_ type: A, _ value: UInt32, order: ByteOrder = .native) {
        attribute(type.rawValue, AttributeWriter.encode(value, order))
    }

    public mutating func u64<A: AttributeType>(_ type: A, _ value: UInt64, order: ByteOrder = .native) {
        attribute(type.rawValue, AttributeWriter.encode(value, order))
    }

    /// A NUL-terminated string attribute.
    public mutating func string<A: AttributeType>(_ type: A, _ value: String) {
        attribute(type.rawValue, Array(value.utf8) + [0])
    }

    public mutating func bytes<A: AttributeType>(_ type: A, _ value: [UInt8]) {
        attribute(type.rawValue, value)
    }

    /// A zero-length attribute whose presence is the value.
    public mutating func flag<A: AttributeType>(_ type: A) {
        attribute(type.rawValue, [])
    }

    /// A nested attribute; its length is back-patched after `body` writes the children.
    /// `setNestedFlag` sets `NLA_F_NESTED`, which some families (nftables) require.
    public mutating func nested<A: AttributeType>(
        _ type: A, setNestedFlag: Bool = false, _ body: (inout AttributeWriter) -> Void
    ) {
        var inner = AttributeWriter()
        body(&inner)
        attribute(type.rawValue | (setNestedFlag ? 0x8000 : 0), inner.bytes)
    }

    /// Encodes an integer field of a fixed header.
    public static func encode<T: FixedWidthInteger>(_ value: T, _ order: ByteOrder = .native) -> [UInt8] {
        let v = order == .big ? value.bigEndian : value.littleEndian
        return withUnsafeBytes(of: v) { Array($0) }
    }
}
