/// A JSON document as the CNI protocol uses it.
///
/// Objects keep their members in document order (duplicates included) so that
/// lookups can apply Go's `encoding/json` rules: keys match case-insensitively
/// and the last matching member wins.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number kept as its source text, so 64-bit integers never pass through a Double.
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The name Go's decoder uses for this kind of value in type errors.
    public var goKind: String {
        switch self {
        case .null: return "null"
        case .bool: return "bool"
        case .number(let n): return "number \(n.text)"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// The members when this is an object.
    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The string when this is a string.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
}

/// A JSON number in its exact source form.
public struct JSONNumber: Sendable, Equatable, CustomStringConvertible {
    /// The literal as written, e.g. `-12`, `1.5e3`.
    public let text: String

    /// Creates a number from its literal text. The text is trusted to be a valid JSON number.
    public init(text: String) { self.text = text }

    /// Creates a number from an integer.
    public init(_ value: Int) { self.text = String(value) }

    /// The value as an integer when the literal is integral and in range (Go's strict rule).
    public var int: Int? { Int(text) }

    /// The value as an unsigned integer when the literal is a non-negative integer.
    public var uint64: UInt64? { UInt64(text) }

    /// The value as a floating-point number.
    public var double: Double? { Double(text) }

    public var description: String { text }
}

/// One member of a JSON object.
public struct JSONMember: Sendable, Equatable {
    public var key: String
    public var value: JSONValue

    public init(key: String, value: JSONValue) {
        self.key = key
        self.value = value
    }
}

/// A JSON object with members in document order.
public struct JSONObject: Sendable, Equatable {
    public var members: [JSONMember]

    public init(_ members: [JSONMember] = []) { self.members = members }

    /// Go's lookup rule: the last member whose key equals `key` ignoring ASCII case.
    public subscript(key: String) -> JSONValue? {
        for member in members.reversed() where asciiCaseInsensitiveEqual(member.key, key) {
            return member.value
        }
        return nil
    }

    /// The last member whose key equals `key` exactly (for keys such as `cni.dev/*`).
    public func exact(_ key: String) -> JSONValue? {
        members.last(where: { $0.key == key })?.value
    }

    /// Replaces every member matching `key` (case-insensitively) with one member, or appends it.
    public mutating func set(_ key: String, _ value: JSONValue) {
        members.removeAll { asciiCaseInsensitiveEqual($0.key, key) }
        members.append(JSONMember(key: key, value: value))
    }

    /// Removes every member matching `key` case-insensitively.
    public mutating func remove(_ key: String) {
        members.removeAll { asciiCaseInsensitiveEqual($0.key, key) }
    }

    public var isEmpty: Bool { members.isEmpty }
}

/// Compares two keys the way Go's `encoding/json` matches struct fields for ASCII names.
func asciiCaseInsensitiveEqual(_ a: String, _ b: String) -> Bool {
    let x = a.utf8, y = b.utf8
    guard x.count == y.count else { return false }
    for (p, q) in zip(x, y) where p != q {
        let lp = (p >= 65 && p <= 90) ? p + 32 : p
        let lq = (q >= 65 && q <= 90) ? q + 32 : q
        if lp != lq { return false }
    }
    return true
}
