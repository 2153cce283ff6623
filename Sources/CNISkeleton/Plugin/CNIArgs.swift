/// `CNI_ARGS`, parsed as Go's `types.LoadArgs` parses it.
public struct CNIArgs: Sendable, Equatable {
    /// The raw variable.
    public let raw: String

    public init(_ raw: String) { self.raw = raw }

    /// The keys every plugin accepts: what Kubernetes-family runtimes send, plus IgnoreUnknown.
    public static let commonKeys: Set<String> = [
        "IgnoreUnknown", "K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID",
    ]

    /// Parses the pairs, accepting `known` keys (matched case-sensitively, as Go does).
    ///
    /// A pair without exactly one `=` is an error; an unknown key is an error unless
    /// `IgnoreUnknown` is true anywhere in the string. Returns the pairs in order.
    public func parse(known: Set<String> = []) throws(CNIError) -> [(key: String, value: String)] {
        guard !raw.isEmpty else { return [] }
        var pairs: [(key: String, value: String)] = []
        for piece in raw.split(separator: ";", omittingEmptySubsequences: false) {
            let kv = piece.split(separator: "=", omittingEmptySubsequences: false)
            guard kv.count == 2 else {
                throw CNIError(.invalidEnvironmentVariables, "ARGS: invalid pair \"\(piece)\"")
            }
            pairs.append((String(kv[0]), String(kv[1])))
        }
        var ignoreUnknown = false
        for pair in pairs where pair.key == "IgnoreUnknown" {
            switch pair.value.lowercased() {
            case "1", "t", "true": ignoreUnknown = true
            case "0", "f", "false": ignoreUnknown = false
            default:
                throw CNIError(
                    .invalidEnvironmentVariables,
                    "ARGS: error parsing value of pair \"IgnoreUnknown=\(pair.value)\": strconv.ParseBool: parsing \"\(pair.value)\": invalid syntax"
                )
            }
        }
        let accepted = known.union(CNIArgs.commonKeys)
        let unknown = pairs.filter { !accepted.contains($0.key) }.map { "\"\($0.key)\"" }
        if !unknown.isEmpty, !ignoreUnknown {
            throw CNIError(.invalidEnvironmentVariables, "ARGS: unknown args [\(unknown.joined(separator: " "))]")
        }
        return pairs
    }

    /// The value of `key` after a successful `parse(known:)`, the last occurrence winning.
    public func value(_ key: String, known: Set<String>) throws(CNIError) -> String? {
        try parse(known: known.union([key])).last { $0.key == key }?.value
    }
}
