/// One attribute read from a payload; unknown types are kept so nothing is lost.
public struct Attribute: Sendable, Equatable {
    /// The type without the `NLA_F_NESTED` / `NLA_F_NET_BYTEORDER` bits.
    public let type: UInt16
    public let payload: [UInt8]

    public init(type: UInt16, payload: [UInt8]) {
        self.type = type
        self.payload = payload
    }

    /// True when this is attribute `t`.
    public func `is`<A: AttributeType>(_ t: A) -> Bool { type == t.rawValue }

    public var u8: UInt8? { payload.count >= 1 ? payload[0] : nil }
    public var u16: UInt16? { integer() }
    public var u32: UInt32? { integer() }
    public var i32: Int32? { integer() }
    public var u64: UInt64? { integer() }

    /// A NUL-terminated (or unterminated) string.
    public var string: String {
        let end = payload.firstIndex(of: 0) ?? payload.count
        return String(decoding: payload[..<end], as: UTF8.self)
    }

    /// The children of a nested attribute.
    public func nested() throws(NetlinkError) -> [Attribute] {
        try AttributeReader.read(payload[...])
    }

    private func integer<T: FixedWidthInteger>() -> T? {
        guard payload.count >= MemoryLayout<T>.size else { return nil }
        var v: T = 0
        for i in (0..<MemoryLayout<T>.size).reversed() { v = v << 8 | T(payload[i]) }
        return v
    }
}

/// Reads a sequence of attributes, checking every length before use. It never traps on
/// kernel input: a malformed attribute is an error.
public enum AttributeReader {
    public static func read(_ bytes: ArraySlice<UInt8>) throws(NetlinkError) -> [Attribute] {
        var out: [Attribute] = []
        var i = bytes.startIndex
        while bytes.endIndex - i >= 4 {
            let len = Int(bytes[i]) | Int(bytes[i + 1]) << 8
            let type = (UInt16(bytes[i + 2]) | UInt16(bytes[i + 3]) << 8) & 0x3fff
            guard len >= 4, i + len <= bytes.endIndex else {
                throw NetlinkError.malformed("attribute of type \(type) with length \(len) overruns its message")
            }
            out.append(Attribute(type: type, payload: Array(bytes[(i + 4)..<(i + len)])))
            i += (len + 3) & ~3
        }
        return out
    }
}

/// Little helpers to read fixed-header fields at an offset.
enum FieldReader {
    static func integer<T: FixedWidthInteger>(_ bytes: ArraySlice<UInt8>, at offset: Int) -> T? {
        let start = bytes.startIndex + offset
        let size = MemoryLayout<T>.size
        guard offset >= 0, start + size <= bytes.endIndex else { return nil }
        var v: T = 0
        for i in (0..<size).reversed() { v = v << 8 | T(bytes[start + i]) }
        return v
    }
}
