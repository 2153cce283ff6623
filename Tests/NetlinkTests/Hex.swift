/// Parses fixture hex: whitespace-separated byte pairs; `//` comments run to end of line.
func hex(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    for line in text.split(separator: "\n") {
        let code = line.components(separatedBy: "//").first ?? ""
        for token in code.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            var i = token.startIndex
            while i < token.endIndex {
                let j = token.index(i, offsetBy: 2)
                out.append(UInt8(token[i..<j], radix: 16)!)
                i = j
            }
        }
    }
    return out
}

private extension Substring {
    func components(separatedBy separator: String) -> [Substring] {
        var parts: [Substring] = []
        var rest = self[...]
        while let range = rest.firstRange(of: separator) {
            parts.append(rest[..<range.lowerBound])
            rest = rest[range.upperBound...]
        }
        parts.append(rest)
        return parts
    }
}

import NetAddress

/// A fixture address from its text (`0.0.0.0` for a typo, which the golden bytes then reveal).
func ip(_ text: String) -> IPAddress { IPAddress(text) ?? .v4(0) }

/// A fixture prefix from its text, `10.1.2.5/24`.
func prefix(_ text: String) -> IPPrefix { IPPrefix(text) ?? IPPrefix(address: .v4(0), prefixLength: 0) }
