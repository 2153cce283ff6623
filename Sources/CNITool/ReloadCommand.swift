import CNISkeleton
import PluginSupport

/// `cni reload`: puts back the nftables state of every live attachment after something wiped
/// it (`nft flush ruleset`, a firewalld reload), from libcni's cache and the cached conflists.
public enum ReloadCommand {
    public static let help = """
        usage: cni reload

        Re-creates the nftables state of every attachment in the result cache (CNI_CACHE_DIR,
        default /var/lib/cni) whose netns still exists: masquerading (bridge and ptp ipMasq),
        bridge's macspoofchk, and portmap's and firewall's entries, each from the conflist the
        attachment was made with and its cached result and capability arguments. What is
        already in place is left as it is, so running it twice changes nothing. Run it after
        `nft flush ruleset` or a firewalld reload (Scripts/systemd/cni-reload.service does that).

        examples:
          nft flush ruleset && cni reload

        """

    public static func run(_ arguments: [String], environment: [String: String]) -> (String, Int32) {
        guard arguments.isEmpty else { return (help, 2) }
        return EachAttachment.run(environment, done: "reloaded") { entry, env in
            let done = try reload(entry, env)
            return done.isEmpty ? "nothing of ours to restore" : done.joined(separator: ", ")
        }
    }

    /// Restores one attachment; says what it restored.
    static func reload(_ entry: CachedAttachment, _ env: ToolEnvironment) throws -> [String] {
        guard case .object(let list)? = try? JSONParser.parse(entry.config) else {
            throw CNIError(.decodingFailure, "the cached network configuration does not parse")
        }
        guard let result = entry.result else { throw CNIError(.decodingFailure, "no cached result") }
        var single = list
        if list["plugins"] == nil { single.set("plugins", .array([.object(list)])) }
        guard case .array(let plugins)? = single["plugins"] else { return [] }
        let version = try NetworkList.negotiate(list)
        var done: [String] = []
        for case .object(let plugin) in plugins {
            let type = plugin["type"]?.stringValue ?? ""
            var config = plugin
            config.set("name", .string(entry.network))
            config.set("cniVersion", .string(version))
            switch type {
            case "bridge", "ptp":
                if plugin["ipMasq"] == .bool(true) {
                    try masquerade(entry, config, result)
                    done.append("\(type) masquerading")
                }
                if type == "bridge", plugin["macspoofchk"] == .bool(true), try spoofCheck(entry, result) {
                    done.append("macspoofchk")
                }
            case "portmap", "firewall":
                var each = env
                each.ifname = entry.ifname
                each.cniArgs = entry.cniArgs.map { "\($0.0)=\($0.1)" }.joined(separator: ";")
                each.capabilityArgs = entry.capabilityArgs
                let netList = NetworkList(
                    name: entry.network, cniVersion: version, plugins: [plugin], bytes: entry.config,
                    disableCheck: false,
                    disableGC: false)
                // Their ADD is idempotent: what is there stays, what is missing is made.
                try Chain(list: netList, environment: each, executor: ExecExecutor(path: env.pluginPath))
                    .rerun(plugin, containerID: entry.containerID, netns: entry.netnsPath, prevResult: result)
                done.append(type)
            default:
                continue
            }
        }
        return done
    }

    static func masquerade(_ entry: CachedAttachment, _ config: JSONObject, _ result: JSONValue) throws {
        let network = try NetworkConfig(object: config)
        let prefixes: [IPPrefix] = {
            guard case .array(let ips)? = result.objectValue?["ips"] else { return [] }
            return ips.compactMap { $0.objectValue?["address"]?.stringValue.flatMap(IPPrefix.init) }
        }()
        try Masquerade.setup(
            prefixes, network: entry.network, ifname: entry.ifname, containerID: entry.containerID,
            exempt: Masquerade.exemptions(network))
    }

    /// bridge's MAC spoof check: the host veth and the container interface's MAC, from the result.
    static func spoofCheck(_ entry: CachedAttachment, _ result: JSONValue) throws -> Bool {
        guard case .array(let interfaces)? = result.objectValue?["interfaces"] else { return false }
        let objects = interfaces.compactMap(\.objectValue)
        let container = objects.first {
            $0["name"]?.stringValue == entry.ifname && !($0["sandbox"]?.stringValue ?? "").isEmpty
        }
        // The host end is the interface without a sandbox that is not the bridge (the first).
        let hosts = objects.filter { ($0["sandbox"]?.stringValue ?? "").isEmpty }.dropFirst()
        guard let veth = hosts.first?["name"]?.stringValue,
            let mac = container?["mac"]?.stringValue.flatMap(MACAddress.init)
        else { return false }
        try MacSpoofCheck.setup(hostInterface: veth, mac: mac, containerID: entry.containerID, ifname: entry.ifname)
        return true
    }
}

extension Chain {
    /// ADD of one plugin of the list with `prevResult`, as the chain ran it the first time.
    func rerun(_ plugin: JSONObject, containerID: String, netns: String, prevResult: JSONValue) throws {
        _ = try callPlugin(plugin, "ADD", containerID, netns, prevResult: prevResult)
    }
}
