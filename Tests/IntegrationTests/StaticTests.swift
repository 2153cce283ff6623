import Foundation
import Testing
import TestSupport

@Suite("static IPAM: config, CNI_ARGS, args and runtimeConfig inputs, validation, all versions")
struct StaticTests {
    static let reference = TestEnvironment.referenceDirectory + "/static"

    func config(_ ipam: String, version: String = "1.0.0", extra: String = "") -> String {
        #"{"cniVersion":"\#(version)","name":"stnet","type":"bridge","ipam":{"type":"static",\#(ipam)}\#(extra)}"#
    }

    func run(_ command: String, _ stdin: String, args: String = "", binary: String? = nil) throws -> CommandResult {
        var invocation = PluginInvocation(plugin: "static", command: command)
        invocation.netns = "/run/netns/cnit-unused"
        invocation.args = args
        return try invocation.run(stdin: stdin, binary: binary)
    }

    static let full =
        #""addresses":[{"address":"10.10.0.5/24","gateway":"10.10.0.1"},{"address":"fd00::5/64","gateway":"fd00::1"}],"routes":[{"dst":"0.0.0.0/0"},{"dst":"192.168.0.0/16","gw":"10.10.0.254"}],"dns":{"nameservers":["10.10.0.53"],"domain":"example.com","search":["example.com"]}"#

    @Test(
        "Same result as the Go reference for the same input",
        .enabled(if: FileManager.default.fileExists(atPath: reference), "needs the Go reference static plugin"),
        arguments: ["0.3.1", "0.4.0", "1.0.0"])
    func matchesReference(version: String) throws {
        let stdin = config(Self.full, version: version)
        let ours = try run("ADD", stdin)
        let theirs = try run("ADD", stdin, binary: Self.reference)
        #expect(ours.status == 0 && theirs.status == 0, "\(ours)\n\(theirs)")
        #expect(try ours.object() as NSDictionary == theirs.object() as NSDictionary)
    }

    @Test("Every version prints its format", arguments: ["0.1.0", "0.2.0", "0.3.0", "1.1.0"])
    func versions(version: String) throws {
        let single = #""addresses":[{"address":"10.10.0.5/24","gateway":"10.10.0.1"}]"#
        let result = try run("ADD", config(single, version: version))
        #expect(result.status == 0, "\(result)")
        let object = try result.object()
        #expect(object["cniVersion"] as? String == version)
        if version.hasPrefix("0.1") || version.hasPrefix("0.2") {
            #expect((object["ip4"] as? [String: Any])?["gateway"] as? String == "10.10.0.1")
        } else {
            #expect((object["ips"] as? [[String: Any]])?.first?["address"] as? String == "10.10.0.5/24")
        }
    }

    @Test("CNI_ARGS IP/GATEWAY append; args.cni.ips and runtimeConfig.ips replace, runtimeConfig winning")
    func inputs() throws {
        let base = #""addresses":[{"address":"10.10.0.5/24"}]"#
        let appended = try run(
            "ADD", config(base), args: "IgnoreUnknown=1;IP=10.20.0.5/24,10.30.0.5/24;GATEWAY=10.20.0.1")
        let ips = try appended.object()["ips"] as? [[String: Any]] ?? []
        #expect(ips.map { $0["address"] as? String } == ["10.10.0.5/24", "10.20.0.5/24", "10.30.0.5/24"])
        #expect(ips[1]["gateway"] as? String == "10.20.0.1")
        #expect(ips[2]["gateway"] == nil)

        let replaced = try run(
            "ADD", config(base, extra: #","args":{"cni":{"ips":["10.40.0.5/24"]}}"#), args: "IP=10.20.0.5/24")
        #expect(
            (try replaced.object()["ips"] as? [[String: Any]])?.map { $0["address"] as? String } == ["10.40.0.5/24"])
        let runtime = try run(
            "ADD",
            config(base, extra: #","args":{"cni":{"ips":["10.40.0.5/24"]}},"runtimeConfig":{"ips":["10.50.0.5/24"]}"#))
        #expect((try runtime.object()["ips"] as? [[String: Any]])?.map { $0["address"] as? String } == ["10.50.0.5/24"])
    }

    @Test(
        "Invalid addresses are error 7",
        arguments: [
            (#""addresses":[{"address":"10.10.0.5"}]"#, ""),
            (#""addresses":[{"address":"10.10.0.5/24","gateway":"nope"}]"#, ""),
            (#""addresses":[]"#, "IP=10.0.0.1"),
            (#""addresses":[]"#, "IP=10.0.0.1/24;GATEWAY=x"),
        ])
    func invalid(ipam: String, args: String) throws {
        let result = try run("ADD", config(ipam), args: args)
        #expect(result.status == 1)
        #expect(try result.object()["code"] as? Int == 7, "\(result)")
    }

    @Test("0.2.0 refuses two addresses of one family")
    func legacyFamilies() throws {
        let result = try run(
            "ADD", config(#""addresses":[{"address":"10.10.0.5/24"},{"address":"10.20.0.5/24"}]"#, version: "0.2.0"))
        #expect(result.status == 1)
    }

    @Test("DEL does nothing; CHECK compares gateways with prevResult")
    func delAndCheck() throws {
        let ipam = #""addresses":[{"address":"10.10.0.5/24","gateway":"10.10.0.1"}]"#
        #expect(try run("DEL", config(ipam)).status == 0)
        let good = config(
            ipam,
            extra: #","prevResult":{"cniVersion":"1.0.0","ips":[{"address":"10.10.0.5/24","gateway":"10.10.0.1"}]}"#)
        #expect(try run("CHECK", good).status == 0)
        let drifted = config(
            ipam,
            extra: #","prevResult":{"cniVersion":"1.0.0","ips":[{"address":"10.10.0.5/24","gateway":"10.10.0.9"}]}"#)
        #expect(try run("CHECK", drifted).status == 1)
    }
}
