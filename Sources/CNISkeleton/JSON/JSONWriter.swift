/// Serialises `JSONValue` the way Go's `encoding/json` does, so output is byte-identical
/// to the reference plugins: `<`, `>`, `&`, U+2028 and U+2029 are escaped, and indented
/// output uses Go's `MarshalIndent` layout.
public enum JSONWriter {
    /// Compact form, as `json.Marshal` writes it.
    public static func compact(_ value: JSONValue) -> String {
        var out = ""
        write(value, into: &out, indent: nil, level: 0)
        return out
    }

    /// Indented form, as `json.MarshalIndent(v, "", "    ")` writes it (no trailing newline).
    public static func indented(_ value: JSONValue, indent: String = "    ") -> String {
        var out = ""
        write(value, into: &out, indent: indent, level: 0)
        return out
    }

    private static func newline(_ out: inout String, _ indent: String?, _ level: Int) {
        guard let indent else { return }
        out.append("\n")
        for _ in 0..<level { out.append(indent) }
    }

    private static func write(_ value: JSONValue, into out: inout String, indent: String?, level: Int) {
        switch value {
        case .null: out.append("null")
        case .bool(let b): out.append(b ? "true" : "false")
        case .number(let n): out.append(n.text)
        case .string(let s): appendQuoted(s, into: &out)
        case .array(let elements):
            if elements.isEmpty { out.append("[]"); return }
            out.append("[")
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(",") }
                newline(&out, indent, level + 1)
                write(element, into: &out, indent: indent, level: level + 1)
            }
            newline(&out, indent, level)
            out.append("]")
        case .object(let object):
            if object.members.isEmpty { out.append("{}"); return }
            out.append("{")
            for (i, member) in object.members.enumerated() {
                if i > 0 { out.append(",") }
                newline(&out, indent, level + 1)
                appendQuoted(member.key, into: &out)
                out.append(indent == nil ? ":" : ": ")
                write(member.value, into: &out, indent: indent, level: level + 1)
            }
            newline(&out, indent, level)
            out.append("}")
        }
    }

    private static let hexDigits = Array("0123456789abcdef")

    /// Appends `s` as a JSON string literal with Go's escaping rules.
    public static func appendQuoted(_ s: String, into out: inout String) {
        out.append("\"")
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                appendUnicodeEscape(scalar.value, into: &out)
            default:
                if scalar.value < 0x20 {
                    appendUnicodeEscape(scalar.value, into: &out)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out.append("\"")
    }

    private static func appendUnicodeEscape(_ v: UInt32, into out: inout String) {
        out.append("\\u")
        for shift in stride(from: 12, through: 0, by: -4) {
            out.append(hexDigits[Int((v >> UInt32(shift)) & 0xf)])
        }
    }
}

extension JSONValue {
    /// Builds an object value from key/value pairs in order.
    public static func object(_ pairs: [(String, JSONValue)]) -> JSONValue {
        .object(JSONObject(pairs.map { JSONMember(key: $0.0, value: $0.1) }))
    }

    /// An integer number value.
    public static func int(_ value: Int) -> JSONValue { .number(JSONNumber(value)) }
}
