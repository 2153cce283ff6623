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
