/// The CNI spec versions and Go's version arithmetic (`pkg/version`).
public enum SpecVersion {
    /// Every version this suite speaks, in Go's `version.All` order.
    public static let all = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]

    /// The version of the spec this suite implements.
    public static let current = "1.1.0"

    /// Parses `major.minor.micro` as Go's `version.ParseVersion` does: at most three
    /// integer parts, missing parts are 0, the empty string is 0.1.0.
    public static func parse(_ version: String) throws(CNIError) -> (Int, Int, Int) {
        let text = version.isEmpty ? "0.1.0" : version
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count >= 4 {
            throw CNIError(.decodingFailure, "invalid version \"\(text)\": too many parts")
        }
        let names = ["major", "minor", "micro"]
        var numbers = [0, 0, 0]
        for (i, part) in parts.enumerated() {
            guard let n = goAtoi(part) else {
                throw CNIError(
                    .decodingFailure,
                    "failed to convert \(names[i]) version part \"\(part)\": strconv.Atoi: parsing \"\(part)\": invalid syntax"
                )
            }
            numbers[i] = n
        }
        return (numbers[0], numbers[1], numbers[2])
    }

    /// `version >= floor`, comparing parsed versions.
    public static func isAtLeast(_ version: String, _ floor: String) throws(CNIError) -> Bool {
        let a = try parse(version), b = try parse(floor)
        return a >= b
    }

    /// Go's `strconv.Atoi`: optional sign, decimal digits only.
    private static func goAtoi(_ s: Substring) -> Int? {
        var digits = s
        if let first = digits.first, first == "+" || first == "-" { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(s)
    }

    /// The result family a version belongs to.
    public enum Family: Sendable, Equatable {
        /// 0.1.0 and 0.2.0: `ip4` / `ip6`.
        case v020
        /// 0.3.0, 0.3.1, 0.4.0: `interfaces`, `ips` with `version`.
        case v040
        /// 1.0.0 and 1.1.0.
        case v100
    }

    /// The family of a known version string, or nil for versions no result format exists for.
    public static func family(of version: String) -> Family? {
        switch version {
        case "", "0.1.0", "0.2.0": return .v020
        case "0.3.0", "0.3.1", "0.4.0": return .v040
        case "1.0.0", "1.1.0": return .v100
        default: return nil
        }
    }
}
