import CNISkeleton

/// A conflist template filled with the node's pod CIDRs, with the two placeholders that
/// containerd's `conf_template` users write most:
/// - `{{.PodCIDR}}`: the first pod CIDR, as containerd renders it;
/// - `{{.PodCIDRRanges}}`: host-local's whole `ranges` value, one range set per CIDR
///   (`[[{"subnet":"10.244.1.0/24"}],[{"subnet":"fd00:1::/64"}]]`). containerd gives Go's text
///   form of a list here, meant for a `range` loop; we run no Go templates, so this one
///   placeholder stands for the loop's usual result.
/// Any other `{{...}}` is an error, so a template written for more of Go's syntax fails loudly.
public struct ConflistTemplate {
    public let text: String

    public init(_ text: String) { self.text = text }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses `10.244.1.0/24,fd00:1::/64`: each a network address with its prefix length.
    public static func podCIDRs(_ list: String) throws(Failure) -> [IPPrefix] {
        let parts = list.split(separator: ",").map { String($0).trimmingSpaces() }
        guard !parts.isEmpty else { throw Failure(description: "--pod-cidr is empty") }
        var out: [IPPrefix] = []
        for part in parts {
            guard let prefix = IPPrefix(part), prefix.network == prefix.address else {
                throw Failure(description: "invalid pod CIDR \"\(part)\": want a network such as 10.244.1.0/24")
            }
            out.append(prefix)
        }
        return out
    }

    /// The rendered conflist, checked to be a JSON object with a name and plugins (or a type).
    public func render(podCIDRs: [IPPrefix]) throws(Failure) -> String {
        guard let first = podCIDRs.first else { throw Failure(description: "no pod CIDR given") }
        let ranges = "[" + podCIDRs.map { #"[{"subnet":"\#($0)"}]"# }.joined(separator: ",") + "]"
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else {
                throw Failure(description: "unterminated {{ in the template")
            }
            let expression = String(rest[open.upperBound..<close.lowerBound]).trimmingSpaces()
            switch expression {
            case ".PodCIDR": out += first.description
            case ".PodCIDRRanges": out += ranges
            default:
                throw Failure(
                    description:
                        "unsupported template expression {{\(expression)}}: only {{.PodCIDR}} and {{.PodCIDRRanges}}")
            }
            rest = rest[close.upperBound...]
        }
        out += rest
        try Self.validate(out)
        return out
    }

    private static func validate(_ rendered: String) throws(Failure) {
        let value: JSONValue
        do { value = try JSONParser.parse(rendered) } catch {
            throw Failure(description: "the rendered template is not JSON: \(error.message)")
        }
        guard case .object(let object) = value else {
            throw Failure(description: "the rendered template is not a JSON object")
        }
        let fields = JSONFields(object, typeName: "NetworkConfigList")
        guard let name = try? fields.string("name"), !name.isEmpty else {
            throw Failure(description: "the rendered template has no \"name\"")
        }
        let plugins = (try? fields.array("plugins")) ?? nil
        let type = (try? fields.string("type")) ?? nil
        guard plugins?.isEmpty == false || type?.isEmpty == false else {
            throw Failure(description: "the rendered template has neither \"plugins\" nor \"type\"")
        }
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" || s.first == "\n" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" || s.last == "\n" { s = s.dropLast() }
        return String(s)
    }
}
