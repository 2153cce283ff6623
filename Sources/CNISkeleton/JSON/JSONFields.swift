/// A decoding failure, worded like Go's `json.UnmarshalTypeError`.
public struct JSONTypeError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
    public init(message: String) { self.message = message }
}

/// Typed, Go-compatible access to the fields of one JSON object.
///
/// Lookups are case-insensitive with the last duplicate winning, `null` reads as absent,
/// and a value of the wrong type is an error (Go's decoder is strict about types).
public struct JSONFields: Sendable {
    /// The object being read.
    public let object: JSONObject
    /// The Go struct name used in error messages (`NetConf`, `IPAMConfig`, ...).
    public let typeName: String

    public init(_ object: JSONObject, typeName: String) {
        self.object = object
        self.typeName = typeName
    }

    private func mismatch(_ key: String, _ value: JSONValue, _ goType: String) -> JSONTypeError {
        JSONTypeError(
            message: "json: cannot unmarshal \(value.goKind) into Go struct field \(typeName).\(key) of type \(goType)"
        )
    }

    /// The raw value, or nil when absent or `null`.
    public func value(_ key: String) -> JSONValue? {
        guard let v = object[key], v != .null else { return nil }
        return v
    }

    public func string(_ key: String) throws(JSONTypeError) -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw mismatch(key, v, "string") }
        return s
    }

    public func bool(_ key: String) throws(JSONTypeError) -> Bool? {
        guard let v = value(key) else { return nil }
        guard case .bool(let b) = v else { throw mismatch(key, v, "bool") }
        return b
    }

    /// An integer field; fractional or out-of-range numbers are errors as in Go.
    public func int(_ key: String) throws(JSONTypeError) -> Int? {
        guard let v = value(key) else { return nil }
        guard case .number(let n) = v, let i = n.int else { throw mismatch(key, v, "int") }
        return i
    }

    /// A non-negative integer field (Go `uint`).
    public func uint(_ key: String) throws(JSONTypeError) -> UInt64? {
        guard let v = value(key) else { return nil }
        guard case .number(let n) = v, let i = n.uint64 else { throw mismatch(key, v, "uint64") }
        return i
    }

    public func object(_ key: String, typeName: String) throws(JSONTypeError) -> JSONFields? {
        guard let v = value(key) else { return nil }
        guard case .object(let o) = v else { throw mismatch(key, v, typeName) }
        return JSONFields(o, typeName: typeName)
    }

    public func array(_ key: String) throws(JSONTypeError) -> [JSONValue]? {
        guard let v = value(key) else { return nil }
        guard case .array(let a) = v else { throw mismatch(key, v, "[]") }
        return a
    }

    public func stringArray(_ key: String) throws(JSONTypeError) -> [String]? {
        guard let elements = try array(key) else { return nil }
        var out: [String] = []
        for element in elements {
            switch element {
            case .string(let s): out.append(s)
            case .null: out.append("")
            default: throw mismatch(key, element, "string")
            }
        }
        return out
    }
}

extension JSONFields {
    /// For DEL, which must clean up whatever an ADD (perhaps the reference's) accepted: the
    /// value when it is a string, nil when absent or of another type. Never an error.
    public func lenientString(_ key: String) -> String? { try? string(key) }

    /// As ``lenientString(_:)``, for a boolean.
    public func lenientBool(_ key: String) -> Bool? { try? bool(key) }
}
