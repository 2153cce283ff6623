/// The plugin configuration read from stdin (Go `types.NetConf`), with typed access to the
/// well-known keys and raw access to the plugin-specific ones.
public struct NetworkConfig: Sendable {
    /// Every key of the config, for plugin-specific decoding.
    public let fields: JSONFields
    /// The network name (validated by the skeleton).
    public let name: String
    /// The negotiated version; "0.1.0" when the config has none.
    public let cniVersion: String
    /// The plugin type.
    public let type: String

    /// Decodes the well-known keys. Types are strict as in Go.
    public init(object: JSONObject) throws(CNIError) {
        let fields = JSONFields(object, typeName: "NetConf")
        self.fields = fields
        do {
            name = try fields.string("name") ?? ""
            let version = try fields.string("cniVersion") ?? ""
            cniVersion = version.isEmpty ? "0.1.0" : version
            type = try fields.string("type") ?? ""
        } catch {
            throw CNIError(.decodingFailure, "error unmarshall network config: \(error.message)")
        }
    }

    /// The `ipam` section, when present.
    public func ipam() throws(CNIError) -> JSONFields? {
        do { return try fields.object("ipam", typeName: "IPAM") } catch { throw CNIError.invalidConfig(error.message) }
    }

    /// The IPAM plugin type, or "" when there is no IPAM section.
    public func ipamType() throws(CNIError) -> String {
        guard let ipam = try ipam() else { return "" }
        do { return try ipam.string("type") ?? "" } catch { throw CNIError.invalidConfig(error.message) }
    }

    /// `runtimeConfig`, the capability arguments the runtime passed to this plugin.
    public func runtimeConfig() throws(CNIError) -> JSONFields? {
        do { return try fields.object("runtimeConfig", typeName: "RuntimeConfig") } catch {
            throw CNIError.invalidConfig(error.message)
        }
    }

    /// The `args` object (`args.cni.ips`, `args.cni.labels`, ...).
    public func args() throws(CNIError) -> JSONFields? {
        do { return try fields.object("args", typeName: "Args") } catch { throw CNIError.invalidConfig(error.message) }
    }

    /// `prevResult` converted to the 1.1.0 model, or nil when absent.
    ///
    /// A prevResult without `cniVersion` is read in the config's version, as Go's
    /// `version.ParsePrevResult` does.
    public func prevResult() throws(CNIError) -> CNIResult? {
        guard let raw = fields.value("prevResult") else { return nil }
        do {
            return try CNIResult(json: raw, defaultVersion: cniVersion)
        } catch {
            throw CNIError(.decodingFailure, "could not parse prevResult: \(error.message)")
        }
    }

    /// `prevResult`, which the caller needs: its absence is code 7, with the reference's message
    /// after `prefix` (ptp's says "ptp: ").
    public func requiredPrevResult(prefix: String = "") throws(CNIError) -> CNIResult {
        guard let result = try prevResult() else {
            throw CNIError(.invalidNetworkConfig, prefix + "Required prevResult missing")
        }
        return result
    }

    /// The attachments GC must keep: `cni.dev/valid-attachments`, or the 1.1.0 tag's
    /// `cni.dev/attachments` when only that is present. Absent is an error (code 7); null means none.
    public func validAttachments() throws(CNIError) -> [Attachment] {
        // Without the key, "nothing is valid" would delete every attachment of the network, so
        // a GC that does not say what is valid is refused. An explicit empty list (or libcni's
        // `null` for a runtime with no attachments) still means none.
        guard let raw = fields.object["cni.dev/valid-attachments"] ?? fields.object["cni.dev/attachments"] else {
            throw CNIError.invalidConfig(
                "GC needs cni.dev/valid-attachments: without it every attachment of the network "
                    + "would be collected", details: "key: cni.dev/valid-attachments")
        }
        if raw == .null { return [] }
        guard case .array(let items) = raw else {
            throw CNIError(.decodingFailure, "cni.dev/valid-attachments is not an array")
        }
        var out: [Attachment] = []
        for item in items {
            guard case .object(let o) = item else {
                throw CNIError(.decodingFailure, "cni.dev/valid-attachments entry is not an object")
            }
            let f = JSONFields(o, typeName: "GCAttachment")
            let attachment: Attachment
            do {
                attachment = Attachment(
                    containerID: try f.string("containerID") ?? "", ifname: try f.string("ifname") ?? "")
            } catch {
                throw CNIError(.decodingFailure, error.message)
            }
            // An entry that names no attachment would keep nothing and collect what it meant.
            guard !attachment.containerID.isEmpty, !attachment.ifname.isEmpty else {
                throw CNIError.invalidConfig(
                    "every cni.dev/valid-attachments entry needs a containerID and an ifname",
                    details: "key: cni.dev/valid-attachments")
            }
            out.append(attachment)
        }
        return out
    }

    /// One attachment as GC names it.
    public struct Attachment: Sendable, Hashable {
        public var containerID: String
        public var ifname: String

        public init(containerID: String, ifname: String) {
            self.containerID = containerID
            self.ifname = ifname
        }
    }
}

extension NetworkConfig {
    /// The IPAM type as DEL reads it: "" when there is no `ipam` or its `type` is no string.
    public var lenientIPAMType: String { ((try? ipam()) ?? nil)?.lenientString("type") ?? "" }
}
