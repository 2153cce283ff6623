import CNISkeleton

/// What every `cni` verb reads from the environment, as cnitool and libcni name it.
public struct ToolEnvironment: Sendable {
    /// `NETCONFPATH`: where network configurations are (default `/etc/cni/net.d`).
    public var configDirectory: String
    /// `CNI_PATH`, split on `:` (default `/opt/cni/bin`).
    public var pluginPath: [String]
    /// `CNI_IFNAME` (default `eth0`).
    public var ifname: String
    /// `CNI_ARGS`, as given (`k=v;k=v`).
    public var cniArgs: String
    /// `CAP_ARGS`: capability arguments as a JSON object.
    public var capabilityArgs: JSONObject
    /// `CNI_CACHE_DIR`: libcni's cache (default `/var/lib/cni`).
    public var cacheDirectory: String
    /// `CNI_DHCP_STATEDIR` (ours): where the dhcp daemon saves leases, as its `-statedir`
    /// (default `/var/lib/cni/dhcp`).
    public var dhcpStateDirectory: String

    /// Reads `environment`; a `CAP_ARGS` that is not a JSON object is an error naming it.
    public init(_ environment: [String: String]) throws(CNIError) {
        configDirectory = environment["NETCONFPATH"].flatMap { $0.isEmpty ? nil : $0 } ?? "/etc/cni/net.d"
        let path = environment["CNI_PATH"].flatMap { $0.isEmpty ? nil : $0 } ?? "/opt/cni/bin"
        pluginPath = path.split(separator: ":").map(String.init)
        ifname = environment["CNI_IFNAME"].flatMap { $0.isEmpty ? nil : $0 } ?? "eth0"
        cniArgs = environment["CNI_ARGS"] ?? ""
        cacheDirectory = environment["CNI_CACHE_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/var/lib/cni"
        dhcpStateDirectory = environment["CNI_DHCP_STATEDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/var/lib/cni/dhcp"
        capabilityArgs = JSONObject()
        if let raw = environment["CAP_ARGS"], !raw.isEmpty {
            guard case .object(let object)? = try? JSONParser.parse(raw) else {
                throw CNIError(.invalidEnvironmentVariables, "CAP_ARGS is not a JSON object: \(raw)")
            }
            capabilityArgs = object
        }
    }

    /// `CNI_ARGS` as the pairs libcni caches.
    public var cniArgPairs: [(String, String)] {
        cniArgs.split(separator: ";").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        }
    }
}
