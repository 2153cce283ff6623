/// An error as the CNI protocol reports it: a code, a short message and optional details.
///
/// Every failure a plugin returns reaches the runtime as this object on stdout.
public struct CNIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A CNI error code. Extensible: plugins may define codes of 100 and above.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        /// 1: the config's cniVersion is not supported.
        public static let incompatibleCNIVersion = Code(rawValue: 1)
        /// 2: a key in the config is not supported; the message names key and value.
        public static let unsupportedField = Code(rawValue: 2)
        /// 3: the container is unknown; the runtime need not call DEL.
        public static let unknownContainer = Code(rawValue: 3)
        /// 4: an environment variable is missing or invalid.
        public static let invalidEnvironmentVariables = Code(rawValue: 4)
        /// 5: reading stdin or writing stdout failed.
        public static let ioFailure = Code(rawValue: 5)
        /// 6: stdin or a version string could not be decoded.
        public static let decodingFailure = Code(rawValue: 6)
        /// 7: the network configuration is invalid.
        public static let invalidNetworkConfig = Code(rawValue: 7)
        /// 8: CNI_NETNS is the plugin's own network namespace (Go skel, not in the spec).
        public static let invalidNetNS = Code(rawValue: 8)
        /// 11: a temporary condition; the runtime should retry later.
        public static let tryAgainLater = Code(rawValue: 11)
        /// 50: the plugin cannot serve ADD requests (STATUS).
        public static let pluginNotAvailable = Code(rawValue: 50)
        /// 51: as 50, and existing containers may have reduced connectivity (STATUS).
        public static let pluginNotAvailableLimitedConnectivity = Code(rawValue: 51)
        /// 999: an internal failure, e.g. a kernel error (Go `ErrInternal`).
        public static let internalError = Code(rawValue: 999)

        public var description: String { String(rawValue) }
    }

    public var code: Code
    public var msg: String
    public var details: String

    public init(_ code: Code, _ msg: String, details: String = "") {
        self.code = code
        self.msg = msg
        self.details = details
    }

    public var description: String {
        details.isEmpty ? msg : "\(msg); \(details)"
    }

    /// The error object in the given protocol version, indented like Go's `Error.Print`.
    ///
    /// The spec asks for `cniVersion` in error objects; Go's skel leaves it out. libcni reads
    /// only code, msg and details, so including it is harmless and spec-conformant.
    public func json(cniVersion: String) -> String {
        var members: [(String, JSONValue)] = [
            ("cniVersion", .string(cniVersion)),
            ("code", .int(code.rawValue)),
            ("msg", .string(msg)),
        ]
        if !details.isEmpty { members.append(("details", .string(details))) }
        return JSONWriter.indented(.object(members))
    }
}

extension CNIError {
    /// Wraps any error as a CNI error: CNI errors pass through, anything else becomes 999.
    public static func wrapping(_ error: any Error) -> CNIError {
        if let cni = error as? CNIError { return cni }
        if let described = error as? any CustomStringConvertible {
            return CNIError(.internalError, described.description)
        }
        return CNIError(.internalError, "\(error)")
    }

    /// A code-7 error for a configuration value that is not acceptable.
    public static func invalidConfig(_ msg: String, details: String = "") -> CNIError {
        CNIError(.invalidNetworkConfig, msg, details: details)
    }

    /// What a failure while reading config keys becomes: a `CNIError` as it is, anything else
    /// (a key of the wrong JSON type) code 7 as "`prefix`: <error>", the way the Go plugins
    /// report a failed unmarshal.
    public static func decodingConfig(
        _ error: any Error, prefix: String = "failed to load netconf", details: String = ""
    ) -> CNIError {
        (error as? CNIError) ?? .invalidConfig("\(prefix): \(error)", details: details)
    }
}
