import NetAddress

/// An element field's type, by nft's datatype number: the kernel only keeps it for `nft` to
/// print the set (a concatenation packs one number per field, 6 bits each).
public enum NFTDataType: UInt32, Sendable {
    case verdict = 1
    case ipv4Address = 7
    case ipv6Address = 8
    case inetProtocol = 12
    case inetService = 13

    /// The field's length in a key or value: every field of a concatenation takes whole 32-bit
    /// registers.
    var length: Int {
        switch self {
        case .ipv6Address: return 16
        case .verdict, .ipv4Address, .inetProtocol, .inetService: return 4
        }
    }

    static func packed(_ types: [NFTDataType]) -> UInt32 {
        types.reduce(0) { $0 << 6 | $1.rawValue }
    }
}

/// A named set (`data` nil) or map of one table. Sets are hash sets: an element is found
/// with one lookup however many there are.
public struct NFTSet: Sendable, Equatable {
    public var name: String
    public var key: [NFTDataType]
    /// A map's value: `[.verdict]` for a verdict map.
    public var data: [NFTDataType]?

    public init(name: String, key: [NFTDataType], data: [NFTDataType]? = nil) {
        self.name = name
        self.key = key
        self.data = data
    }
}

/// One field of an element's key or value, as the kernel compares it.
public enum NFTField: Sendable, Equatable {
    case address(IPAddress)
    case protocolNumber(UInt8)
    case port(UInt16)

    /// The field's bytes, zero-padded to whole registers as a load into a register leaves them.
    var bytes: [UInt8] {
        switch self {
        case .address(let address): return address.bytes
        case .protocolNumber(let number): return [number, 0, 0, 0]
        case .port(let port): return [UInt8(port >> 8), UInt8(port & 0xff), 0, 0]
        }
    }

    var text: String {
        switch self {
        case .address(let address): return "\(address)"
        case .protocolNumber(let number): return [6: "tcp", 17: "udp", 132: "sctp"][Int(number)] ?? "\(number)"
        case .port(let port): return "\(port)"
        }
    }

    /// The key or value `fields` make, as the kernel stores it.
    public static func bytes(_ fields: [NFTField]) -> [UInt8] { fields.flatMap(\.bytes) }
}

/// A map element's value.
public enum NFTElementValue: Sendable, Equatable {
    /// A data map's value, as the kernel stores it.
    case data([UInt8])
    /// A verdict map's `goto chain`.
    case goto(String)

    /// A data map's value made of `fields`.
    public static func fields(_ fields: [NFTField]) -> NFTElementValue { .data(NFTField.bytes(fields)) }
}

/// A set or map element; `comment` says whose it is (the kernel keeps it as userdata).
public struct NFTElement: Sendable, Equatable {
    /// The key as the kernel stores it.
    public var key: [UInt8]
    public var value: NFTElementValue?
    public var comment: String?

    public init(key: [NFTField], value: NFTElementValue? = nil, comment: String? = nil) {
        self.init(rawKey: NFTField.bytes(key), value: value, comment: comment)
    }

    init(rawKey: [UInt8], value: NFTElementValue?, comment: String?) {
        self.key = rawKey
        self.value = value
        self.comment = comment
    }

    /// The element as one line of a transaction's text: raw bytes in hex, as `nft --debug` shows them.
    var text: String {
        func hex(_ bytes: [UInt8]) -> String {
            "0x" + bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        }
        var out = hex(key)
        if let comment { out += " comment \"\(comment)\"" }
        switch value {
        case .data(let bytes)?: out += " : " + hex(bytes)
        case .goto(let chain)?: out += " : goto \(chain)"
        case nil: break
        }
        return out
    }
}
