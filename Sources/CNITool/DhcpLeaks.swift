import CNISkeleton
import CNISystem
import Glibc

/// Leases the dhcp daemon keeps (and renews) for attachments that are gone: released through
/// the daemon, as the dhcp plugin's DEL does, so the server gets its address back.
enum DhcpLeaks {
    static func findings(_ lists: [NetworkList], _ live: Attachments, _ env: ToolEnvironment) -> [DoctorCommand.Finding]
    {
        let dir = env.dhcpStateDirectory
        var out = DoctorCommand.temporaries(in: dir, prefixes: [".lease."])
        for name in NetworkList.entries(of: dir) where name.hasPrefix("lease-") && name.hasSuffix(".json") {
            guard let bytes = try? FileIO.readFile(dir + "/" + name, limit: 64 << 10, noFollow: true),
                case .object(let lease)? = try? JSONParser.parse(bytes)
            else { continue }
            let field = { (key: String) in lease.exact(key)?.stringValue ?? "" }
            let (network, id, ifname, netns) = (field("network"), field("containerID"), field("ifname"), field("netns"))
            guard !live.holds(network: network, containerID: id, ifname: ifname) else { continue }
            out.append(
                .init(text: "dhcp lease of \(network) \(id) \(ifname) (\(dir)/\(name))") {
                    let stdin = request(network: network, lists)
                    let environment = [
                        "CNI_COMMAND=DEL", "CNI_CONTAINERID=\(id)", "CNI_NETNS=\(netns)", "CNI_IFNAME=\(ifname)",
                        "CNI_PATH=\(env.pluginPath.joined(separator: ":"))", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                    ]
                    let done = try? ExecExecutor(path: env.pluginPath).run(
                        "dhcp", environment: environment, stdin: stdin)
                    // A daemon that is not running cannot release it: the file goes, and a
                    // daemon started later does not bring the lease back.
                    if done?.status != 0 && unlink(dir + "/" + name) != 0 && errno != ENOENT {
                        throw CNIError(.ioFailure, "unlink \(dir)/\(name): \(String(cString: strerror(errno)))")
                    }
                })
        }
        return out
    }

    /// The dhcp plugin's stdin for DEL: the network's plugin that names dhcp as its IPAM (its
    /// socket path with it), or a bare one when the network is not configured any more.
    static func request(network: String, _ lists: [NetworkList]) -> [UInt8] {
        let list = lists.first { $0.name == network }
        let plugin = list?.plugins.first { $0["ipam"]?.objectValue?["type"]?.stringValue == "dhcp" }
        var config = plugin ?? JSONObject([JSONMember(key: "ipam", value: .object([("type", .string("dhcp"))]))])
        config.set("cniVersion", .string("1.0.0"))
        config.set("name", .string(network))
        return Array(JSONWriter.compact(.object(config)).utf8)
    }
}
