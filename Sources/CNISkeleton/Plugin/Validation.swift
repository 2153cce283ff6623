/// The name rules of the spec and of Go's `pkg/utils`, with their exact error texts.
public enum Validation {
    /// `^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`, the rule for container IDs and network names.
    public static func isValidIdentifier(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        guard let first = bytes.first, isAlnum(first) else { return false }
        return bytes.dropFirst().allSatisfy {
            isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
        }
    }

    private static func isAlnum(_ b: UInt8) -> Bool {
        (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122)
    }

    /// Go `utils.ValidateContainerID`.
    public static func validateContainerID(_ id: String) throws(CNIError) {
        if id.isEmpty { throw CNIError(.unknownContainer, "missing containerID") }
        if !isValidIdentifier(id) {
            throw CNIError(.invalidEnvironmentVariables, "invalid characters in containerID", details: id)
        }
    }

    /// Go `utils.ValidateNetworkName`.
    public static func validateNetworkName(_ name: String) throws(CNIError) {
        if name.isEmpty { throw CNIError(.invalidNetworkConfig, "missing network name") }
        if !isValidIdentifier(name) {
            throw CNIError(.invalidNetworkConfig, "invalid characters found in network name", details: name)
        }
    }

    /// The kernel's limit on interface names, in bytes (IFNAMSIZ - 1).
    public static let maxInterfaceNameLength = 15

    /// Go `utils.ValidateInterfaceName`: non-empty, at most 15 bytes, not `.`/`..`, and no
    /// `/`, `:` or Unicode whitespace.
    public static func validateInterfaceName(_ name: String) throws(CNIError) {
        if name.isEmpty { throw CNIError(.invalidEnvironmentVariables, "interface name is empty") }
        if name.utf8.count > maxInterfaceNameLength {
            throw CNIError(
                .invalidEnvironmentVariables, "interface name is too long",
                details: "interface name should be less than \(maxInterfaceNameLength + 1) characters")
        }
        if name == "." || name == ".." { throw CNIError(.invalidEnvironmentVariables, "interface name is . or ..") }
        for scalar in name.unicodeScalars where scalar == "/" || scalar == ":" || isGoSpace(scalar) {
            throw CNIError(.invalidEnvironmentVariables, "interface name contains / or : or whitespace characters")
        }
        // Stricter than the reference: the kernel expands `%d` in a name it creates (`tap%d`
        // becomes tap0), so the device would not carry the name DEL looks for, and would leak.
        if name.contains("%") {
            throw CNIError(.invalidEnvironmentVariables, "interface name contains %, which the kernel would expand")
        }
    }

    /// Go's `unicode.IsSpace`.
    static func isGoSpace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x09...0x0d, 0x20, 0x85, 0xa0: return true
        default: return s.value > 0xff && s.properties.isWhitespace
        }
    }
}
