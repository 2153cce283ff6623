import Foundation
import Testing
import TestSupport

/// host-local exec'd as a runtime (through a main plugin) would, against scratch dataDirs;
/// the Go reference host-local from /usr/lib/cni is the oracle for the on-disk format.
@Suite("host-local: results, compatibility with the reference store, concurrency, GC, STATUS")
struct HostLocalTests {
    static let reference = TestEnvironment.referenceDirectory + "/host-local"

    func config(
        _ dataDir: String, version: String = "1.0.0", ipam: String = #""subnet":"10.22.0.0/24""#, extra: String = ""
    ) -> String {
        #"{"cniVersion":"\#(version)","name":"hlnet","type":"bridge","ipam":{"type":"host-local","dataDir":"\#(dataDir)",\#(ipam)}\#(extra)}"#
    }

    func run(
        _ command: String, _ stdin: String, id: String, ifname: String = "eth0", args: String = "",
        binary: String? = nil
    ) throws -> CommandResult {
        var invocation = PluginInvocation(plugin: "host-local", command: command)
        invocation.containerID = id
        invocation.ifname = ifname
        invocation.args = args
        invocation.netns = command == "DEL" ? "" : "/run/netns/cnit-unused"
        if command == "GC" || command == "STATUS" {
            invocation.containerID = ""; invocation.ifname = ""; invocation.netns = ""
        }
        return try invocation.run(stdin: stdin, binary: binary)
    }

    func reservations(_ dataDir: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dataDir + "/hlnet")
        where name.first?.isNumber == true || name.contains(":") {
            out[name] = try String(contentsOfFile: dataDir + "/hlnet/" + name, encoding: .utf8)
        }
        return out
    }

    @Test(
        "Results in every cniVersion: ips with the subnet's prefix and gateway, routes, dns from resolvConf",
        arguments: ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
    func versions(version: String) throws {
        let dir = try TestEnvironment.scratchDirectory("hl")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "nameserver 10.22.0.53\nsearch svc.local\n".write(
            toFile: dir + "/resolv.conf", atomically: true, encoding: .utf8)
        let stdin = config(
            dir, version: version,
            ipam: #""subnet":"10.22.0.0/24","routes":[{"dst":"0.0.0.0/0"}],"resolvConf":"\#(dir)/resolv.conf""#)
        let result = try run("ADD", stdin, id: "c1")
        #expect(result.status == 0, "\(result)")
        let object = try result.object()
        #expect(object["cniVersion"] as? String == version)
        if version.hasPrefix("0.1") || version.hasPrefix("0.2") {
            let ip4 = object["ip4"] as? [String: Any]
            #expect(ip4?["ip"] as? String == "10.22.0.2/24")
            #expect(ip4?["gateway"] as? String == "10.22.0.1")
        } else {
            let ips = object["ips"] as? [[String: Any]] ?? []
            #expect(ips.first?["address"] as? String == "10.22.0.2/24")
            #expect(ips.first?["gateway"] as? String == "10.22.0.1")
            #expect(ips.first?["interface"] == nil, "IPAM results carry no interface index")
            #expect(object["interfaces"] == nil)
            #expect((object["routes"] as? [[String: Any]])?.first?["dst"] as? String == "0.0.0.0/0")
            #expect((object["dns"] as? [String: Any])?["nameservers"] as? [String] == ["10.22.0.53"])
        }
        #expect(try run("DEL", stdin, id: "c1").status == 0)
        #expect(try reservations(dir).isEmpty)
    }

    @Test(
        "Compatibility: reference allocates, ours continues in the same dataDir, and each releases the other's",
        .enabled(
            if: FileManager.default.fileExists(atPath: reference),
            "needs the Go reference host-local (containernetworking-plugins)"))
    func compatibility() throws {
        let dir = try TestEnvironment.scratchDirectory("hlc")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The reference (Debian 1.1.1) speaks up to 1.0.0.
        let stdin = config(dir, ipam: #""ranges":[[{"subnet":"10.22.0.0/24"}],[{"subnet":"fd00:22::/120"}]]"#)
        var seen = Set<String>()
        for i in 0..<6 {
            let binary = i % 2 == 0 ? Self.reference : nil
            let result = try run("ADD", stdin, id: "ctr\(i)", binary: binary)
            #expect(result.status == 0, "\(i): \(result)")
            for ip in try result.object()["ips"] as? [[String: Any]] ?? [] {
                let address = ip["address"] as? String ?? ""
                #expect(!seen.contains(address), "\(address) handed out twice")
                seen.insert(address)
            }
        }
        let files = try reservations(dir)
        #expect(files.count == 12)
        #expect(files["10.22.0.2"] == "ctr0\r\neth0")
        #expect(files["10.22.0.3"] == "ctr1\r\neth0", "ours writes the reference's format")
        #expect(files["fd00:22::3"] == "ctr1\r\neth0")
        // CHECK works across implementations too.
        #expect(try run("CHECK", stdin, id: "ctr0").status == 0)
        #expect(try run("CHECK", stdin, id: "ctr1", binary: Self.reference).status == 0)
        // Ours releases a reference-made reservation, the reference releases ours.
        #expect(try run("DEL", stdin, id: "ctr0").status == 0)
        #expect(try run("DEL", stdin, id: "ctr1", binary: Self.reference).status == 0)
        let after = try reservations(dir)
        #expect(
            after["10.22.0.2"] == nil && after["10.22.0.3"] == nil && after["fd00:22::2"] == nil
                && after["fd00:22::3"] == nil)
        #expect(after.count == 8)
        // The reference continues round-robin from what ours recorded.
        let next = try run("ADD", stdin, id: "ctr9", binary: Self.reference)
        #expect(try (next.object()["ips"] as? [[String: Any]])?.first?["address"] as? String == "10.22.0.8/24")
    }

    @Test("A second ADD for the same attachment fails and keeps the first address")
    func duplicateAdd() throws {
        let dir = try TestEnvironment.scratchDirectory("hld")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stdin = config(dir)
        #expect(try run("ADD", stdin, id: "c1").status == 0)
        let again = try run("ADD", stdin, id: "c1")
        #expect(again.status == 1)
        #expect((try again.object()["msg"] as? String)?.contains("duplicate allocation is not allowed") == true)
        #expect(try reservations(dir) == ["10.22.0.2": "c1\r\neth0"])
    }

    @Test(
        "Concurrency: 200 ADDs, 20 at a time, on one /24 get distinct addresses; 200 DELs leave only lock and last_reserved"
    )
    func concurrency() throws {
        let dir = try TestEnvironment.scratchDirectory("hlp")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stdin = config(dir)
        let addresses = Locked<[String]>([])
        let failures = Locked<[String]>([])
        for command in ["ADD", "DEL"] {
            for batch in 0..<10 {
                DispatchQueue.concurrentPerform(iterations: 20) { i in
                    let id = "ctr\(batch * 20 + i)"
                    do {
                        let result = try run(command, stdin, id: id)
                        if result.status != 0 { failures.mutate { $0.append("\(command) \(id): \(result)") } }
                        if command == "ADD",
                            let ip = (try result.object()["ips"] as? [[String: Any]])?.first?["address"] as? String
                        {
                            addresses.mutate { $0.append(ip) }
                        }
                    } catch {
                        failures.mutate { $0.append("\(id): \(error)") }
                    }
                }
            }
            if command == "ADD" {
                #expect(addresses.value.count == 200)
                #expect(Set(addresses.value).count == 200, "every address distinct")
            }
        }
        #expect(failures.value.isEmpty, "\(failures.value.prefix(3))")
        let left = try FileManager.default.contentsOfDirectory(atPath: dir + "/hlnet").filter { !$0.hasPrefix(".") }
            .sorted()
        #expect(left == ["last_reserved_ip.0", "lock"])
    }

    @Test("GC releases reservations of attachments not listed, keeps valid ones and other networks; idempotent")
    func gc() throws {
        let dir = try TestEnvironment.scratchDirectory("hlg")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stdin = config(dir, version: "1.1.0")
        for id in ["ctr1", "ctr2", "ctr3"] { #expect(try run("ADD", stdin, id: id).status == 0) }
        let other = stdin.replacingOccurrences(of: "\"hlnet\"", with: "\"othernet\"")
        #expect(try run("ADD", other, id: "ctr2").status == 0)
        let gcConfig = stdin.replacingOccurrences(
            of: "\"type\":\"bridge\"",
            with: #""type":"bridge","cni.dev/valid-attachments":[{"containerID":"ctr1","ifname":"eth0"}]"#)
        for _ in 0..<2 {
            let result = try run("GC", gcConfig, id: "")
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.isEmpty)
            #expect(try reservations(dir) == ["10.22.0.2": "ctr1\r\neth0"])
        }
        #expect(FileManager.default.fileExists(atPath: dir + "/othernet/10.22.0.2"), "other networks untouched")
        // An empty list releases everything of this network.
        let empty = stdin.replacingOccurrences(
            of: "\"type\":\"bridge\"", with: #""type":"bridge","cni.dev/valid-attachments":[]"#)
        #expect(try run("GC", empty, id: "").status == 0)
        #expect(try reservations(dir).isEmpty)
    }

    @Test("STATUS: 0 while addresses are free, 50 naming the network when a range set is full")
    func status() throws {
        let dir = try TestEnvironment.scratchDirectory("hls")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stdin = config(dir, version: "1.1.0", ipam: #""subnet":"10.22.0.0/29""#)
        #expect(try run("STATUS", stdin, id: "").status == 0)
        for i in 0..<5 { #expect(try run("ADD", stdin, id: "c\(i)").status == 0) }
        let full = try run("STATUS", stdin, id: "")
        #expect(full.status == 1)
        #expect(try full.object()["code"] as? Int == 50)
        #expect((try full.object()["msg"] as? String)?.contains("hlnet") == true)
        #expect(try run("DEL", stdin, id: "c0").status == 0)
        #expect(try run("STATUS", stdin, id: "").status == 0)
    }

    @Test("Requested addresses: CNI_ARGS IP, args.cni.ips, and one outside every range (error 7, nothing written)")
    func requested() throws {
        let dir = try TestEnvironment.scratchDirectory("hlr")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stdin = config(dir)
        let byArgs = try run("ADD", stdin, id: "c1", args: "IgnoreUnknown=1;IP=10.22.0.50/24")
        #expect(try (byArgs.object()["ips"] as? [[String: Any]])?.first?["address"] as? String == "10.22.0.50/24")
        let byConfig = try run(
            "ADD", config(dir, extra: #","args":{"cni":{"ips":["10.22.0.60"]}}"#), id: "c2", args: "IP=10.22.0.51")
        #expect(try (byConfig.object()["ips"] as? [[String: Any]])?.first?["address"] as? String == "10.22.0.60/24")
        let outside = try run("ADD", stdin, id: "c3", args: "IP=10.99.0.1")
        #expect(outside.status == 1)
        #expect(try outside.object()["code"] as? Int == 7)
        #expect(try reservations(dir).keys.sorted() == ["10.22.0.50", "10.22.0.60"])
    }

    @Test(
        "Bad input is error 7 naming the key and writes nothing",
        arguments: [
            (#""subnet":"10.22.0.0/33""#, "ipam.subnet"),
            (#""ranges":[[{"subnet":"10.22.0.0/24"},{"subnet":"10.22.0.0/25"}]]"#, "overlap"),
            (#""ranges":[[{"subnet":"10.22.0.0/24","rangeStart":"10.23.0.1"}]]"#, "rangeStart"),
        ])
    func badInput(ipam: String, expected: String) throws {
        let dir = try TestEnvironment.scratchDirectory("hlb")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try run("ADD", config(dir, ipam: ipam), id: "c1")
        #expect(result.status == 1)
        #expect(try result.object()["code"] as? Int == 7)
        #expect((try result.object()["msg"] as? String)?.contains(expected) == true, "\(result)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/hlnet"))
    }

    @Test("A dataDir that is not a directory is error 7")
    func dataDirFile() throws {
        let dir = try TestEnvironment.scratchDirectory("hlf")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "x".write(toFile: dir + "/file", atomically: true, encoding: .utf8)
        let result = try run("ADD", config(dir + "/file"), id: "c1")
        #expect(try result.object()["code"] as? Int == 7)
        #expect((try result.object()["msg"] as? String)?.contains("ipam.dataDir") == true)
    }
}

/// A value shared between the threads of one test.
final class Locked<Value>: @unchecked Sendable {
    // @unchecked: every access goes through the lock.
    private var stored: Value
    private let lock = NSLock()
    init(_ value: Value) { stored = value }
    var value: Value { lock.lock(); defer { lock.unlock() }; return stored }
    func mutate(_ body: (inout Value) -> Void) { lock.lock(); body(&stored); lock.unlock() }
}
