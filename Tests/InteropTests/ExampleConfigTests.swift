import Foundation
import Testing
import TestSupport

/// Every conflist in Plugins-Config-Examples, run through libcni (add, check, del) in a
/// fresh node and pod, with host-local state redirected to a scratch dataDir.
@Suite(
    "Example configurations through libcni",
    .enabled(if: LibcniDriver.unavailableReason == nil, Comment(rawValue: LibcniDriver.unavailableReason ?? "")))
struct ExampleConfigTests {
    static let directory = TestEnvironment.repositoryRoot.appendingPathComponent("Plugins-Config-Examples").path
    static let examples = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter {
        $0.hasSuffix(".conflist")
    }.sorted()

    /// The conflist with every IPAM `dataDir` pointed at `dataDir`.
    static func localized(_ file: String, dataDir: String) throws -> (name: String, json: Data) {
        var list =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/" + file)))
            as! [String: Any]
        var plugins = list["plugins"] as! [[String: Any]]
        for i in plugins.indices {
            if plugins[i]["type"] as? String == "tuning" { plugins[i]["dataDir"] = dataDir + "/tuning" }
            if var ipam = plugins[i]["ipam"] as? [String: Any], ipam["type"] as? String == "host-local" {
                ipam["dataDir"] = dataDir
                plugins[i]["ipam"] = ipam
            }
        }
        list["plugins"] = plugins
        return (list["name"] as! String, try JSONSerialization.data(withJSONObject: list))
    }

    @Test("add, check, del; the pod reaches its gateway; nothing is left", arguments: examples)
    func example(file: String) throws {
        let node = try TestNamespace("exn")
        let pod = try TestNamespace("exp")
        let confDir = try TestEnvironment.scratchDirectory("exconf")
        let dataDir = try TestEnvironment.scratchDirectory("exdata")
        defer {
            try? pod.remove(); try? node.remove()
            try? FileManager.default.removeItem(atPath: confDir); try? FileManager.default.removeItem(atPath: dataDir)
        }
        let (name, json) = try Self.localized(file, dataDir: dataDir)
        try json.write(to: URL(fileURLWithPath: confDir + "/" + file))
        // Capability arguments as a runtime passes them; only plugins that declare them get them.
        let capabilities = [
            "CAP_ARGS":
                #"{"portMappings":[{"hostPort":18080,"containerPort":80,"protocol":"tcp"}],"mac":"02:00:00:00:42:01","bandwidth":{"ingressRate":10000000,"ingressBurst":100000,"egressRate":10000000,"egressBurst":100000}}"#
        ]
        let added = try LibcniDriver.run(
            "add", network: name, netns: pod.path, confDir: confDir, cacheDir: confDir, node: node, extra: capabilities)
        #expect(added.status == 0, "\(added)")
        let result = try added.object()
        for ip in result["ips"] as? [[String: Any]] ?? [] {
            guard let gateway = ip["gateway"] as? String, (ip["address"] as? String)?.contains(".") == true else {
                continue
            }
            #expect(try pod.run(["ping", "-c", "1", "-W", "2", gateway]).status == 0, "ping \(gateway)")
        }
        let checked = try LibcniDriver.run(
            "check", network: name, netns: pod.path, confDir: confDir, cacheDir: confDir, node: node,
            extra: capabilities)
        #expect(checked.status == 0, "\(checked)")
        let deleted = try LibcniDriver.run(
            "del", network: name, netns: pod.path, confDir: confDir, cacheDir: confDir, node: node, extra: capabilities)
        #expect(deleted.status == 0, "\(deleted)")
        #expect(try pod.ipJSON(["link", "show"]).count == 1)
        let left = try node.ipJSON(["link", "show"]).compactMap { $0["ifname"] as? String }.filter {
            !$0.hasPrefix("veth")
        }
        #expect(
            try node.ipJSON(["link", "show"]).allSatisfy { ($0["ifname"] as? String)?.hasPrefix("veth") == false },
            "\(left)")
        let reservations = (try? FileManager.default.contentsOfDirectory(atPath: dataDir + "/" + name)) ?? []
        #expect(reservations.allSatisfy { $0.first?.isNumber != true && !$0.contains(":") }, "\(reservations)")
        let rules = try Command.checked(["ip", "netns", "exec", node.name, "nft", "list", "ruleset"])
        #expect(!rules.contains("masquerade comment"))
        #expect(!rules.contains("dnat to"))
        #expect(!rules.contains(", id: "), "no element or rule of an attachment is left: \(rules)")
        #expect(
            try node.ipJSON(["link", "show"]).allSatisfy { ($0["ifname"] as? String)?.hasPrefix("bwp") == false },
            "IFB removed")
    }
}
