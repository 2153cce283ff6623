import CNISkeleton
import Foundation
import IPAM
import Testing

func netConfig(_ json: String) throws -> NetworkConfig {
    try NetworkConfig(object: #require(try JSONParser.parse(json).objectValue))
}

func hostLocal(_ ipam: String, version: String = "1.0.0", extra: String = "") throws -> NetworkConfig {
    try netConfig(
        #"{"cniVersion":"\#(version)","name":"net1","type":"bridge","ipam":{"type":"host-local",\#(ipam)}\#(extra)}"#)
}

func scratch() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("cnit-ipam-\(UUID().uuidString.prefix(8))")
        .path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite("host-local configuration: defaults and validation with the key named")
struct HostLocalConfigTests {
    @Test("Defaults: start network+1, end broadcast-1 (IPv4) or the last address (IPv6), gateway network+1")
    func defaults() throws {
        let config = try HostLocalConfig(
            hostLocal(#""ranges":[[{"subnet":"10.1.0.0/24"}],[{"subnet":"fd00::/120"}]]"#), args: CNIArgs(""))
        let v4 = config.rangeSets[0].ranges[0]
        #expect(
            v4.start == IPAddress("10.1.0.1") && v4.end == IPAddress("10.1.0.254")
                && v4.gateway == IPAddress("10.1.0.1"))
        let v6 = config.rangeSets[1].ranges[0]
        #expect(v6.start == IPAddress("fd00::1") && v6.end == IPAddress("fd00::ff"))
        #expect(config.dataDir == "/var/lib/cni/networks")
    }

    @Test("Order of range sets: ipRanges capability, then the legacy subnet, then ranges")
    func order() throws {
        let config = try HostLocalConfig(
            hostLocal(
                #""subnet":"10.2.0.0/24","ranges":[[{"subnet":"10.3.0.0/24"}]]"#,
                extra: #","runtimeConfig":{"ipRanges":[[{"subnet":"10.1.0.0/24"}]]}"#), args: CNIArgs(""))
        #expect(
            config.rangeSets.map { $0.ranges[0].subnet.description } == ["10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24"])
    }

    @Test(
        "Bad input is error 7 and names the key",
        arguments: [
            (#""subnet":"10.0.0.0/33""#, "ipam.subnet"),
            (#""subnet":"10.0.0.1/24""#, "host bits"),
            (#""subnet":"10.0.0.0/31""#, "too small"),
            (#""ranges":[[{"subnet":"10.0.0.0/24","rangeStart":"10.1.0.5"}]]"#, "ipam.ranges[0][0].rangeStart"),
            (#""ranges":[[{"subnet":"10.0.0.0/24","rangeEnd":"bogus"}]]"#, "ipam.ranges[0][0].rangeEnd"),
            (#""ranges":[[{"subnet":"10.0.0.0/24"},{"subnet":"10.0.0.0/25"}]]"#, "overlap"),
            (#""ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"10.0.0.128/25"}]]"#, "range set 0 overlaps with 1"),
            (#""ranges":[[{"subnet":"10.0.0.0/24"},{"subnet":"fd00::/64"}]]"#, "mixed address families"),
            (#""ranges":[[]]"#, "empty range set"),
            (#""dataDir":"/tmp""#, "no IP ranges specified"),
            (#""subnet":"10.0.0.0/24","routes":[{"dst":"nope"}]"#, "ipam.routes[0]"),
        ])
    func invalid(ipam: String, expected: String) {
        do {
            _ = try HostLocalConfig(hostLocal(ipam), args: CNIArgs(""))
            Issue.record("accepted \(ipam)")
        } catch let error as CNIError {
            #expect(error.code == .invalidNetworkConfig)
            #expect(error.msg.contains(expected), "\(error.msg)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test("0.2.0 allows one address per family only")
    func legacyVersion() {
        #expect(throws: CNIError.self) {
            try HostLocalConfig(
                hostLocal(#""ranges":[[{"subnet":"10.1.0.0/24"}],[{"subnet":"10.2.0.0/24"}]]"#, version: "0.2.0"),
                args: CNIArgs(""))
        }
    }

    @Test("Requested IPs: CNI_ARGS IP (prefix ignored), args.cni.ips wins over it, runtimeConfig.ips added")
    func requested() throws {
        let fromArgs = try HostLocalConfig(hostLocal(#""subnet":"10.1.0.0/24""#), args: CNIArgs("IP=10.1.0.50/24"))
        #expect(fromArgs.requestedIPs == [IPAddress("10.1.0.50")!])
        let both = try HostLocalConfig(
            hostLocal(
                #""subnet":"10.1.0.0/24""#,
                extra: #","args":{"cni":{"ips":["10.1.0.60"]}},"runtimeConfig":{"ips":["10.1.0.70/24"]}"#),
            args: CNIArgs("IP=10.1.0.50"))
        #expect(both.requestedIPs == [IPAddress("10.1.0.60")!, IPAddress("10.1.0.70")!])
        #expect(throws: CNIError.self) {
            try HostLocalConfig(hostLocal(#""subnet":"10.1.0.0/24""#), args: CNIArgs("IP=nope"))
        }
    }
}

@Suite("host-local store and allocator on a scratch directory")
struct DiskStoreTests {
    func set(_ json: String) throws -> RangeSet {
        try HostLocalConfig(hostLocal(#""ranges":[\#(json)]"#), args: CNIArgs("")).rangeSets[0]
    }

    @Test("Round-robin after last_reserved_ip, skipping the gateway, wrapping across ranges")
    func roundRobin() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rangeSet = try set(#"[{"subnet":"10.1.0.0/29","rangeStart":"10.1.0.4"},{"subnet":"10.2.0.0/30"}]"#)
        let store = try DiskStore(dataDir: dir, network: "n")
        var got: [String] = []
        for i in 0..<4 {
            got.append(
                try Allocator(set: rangeSet, setIndex: 0).allocate(
                    store, for: Owner(containerID: "c\(i)", ifname: "eth0"), requested: nil
                ).address.description)
        }
        #expect(got == ["10.1.0.4/29", "10.1.0.5/29", "10.1.0.6/29", "10.2.0.2/30"])
        #expect(throws: CNIError.self) {
            try Allocator(set: rangeSet, setIndex: 0).allocate(
                store, for: Owner(containerID: "c9", ifname: "eth0"), requested: nil)
        }
        try store.release([IPAddress("10.1.0.5")!])
        let again = try Allocator(set: rangeSet, setIndex: 0).allocate(
            store, for: Owner(containerID: "c5", ifname: "eth0"), requested: nil)
        #expect(again.address.description == "10.1.0.5/29")
        store.commit()
        #expect(try String(contentsOfFile: dir + "/n/last_reserved_ip.0", encoding: .utf8) == "10.1.0.5")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/n/10.1.0.4")) == Data("c0\r\neth0".utf8))
    }

    @Test("A second ADD for the same attachment is refused; requested and gateway addresses")
    func duplicatesAndRequests() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rangeSet = try set(#"[{"subnet":"10.1.0.0/24"}]"#)
        let store = try DiskStore(dataDir: dir, network: "n")
        let owner = Owner(containerID: "c1", ifname: "eth0")
        let allocator = Allocator(set: rangeSet, setIndex: 0)
        _ = try allocator.allocate(store, for: owner, requested: nil)
        #expect(throws: CNIError.self) { try allocator.allocate(store, for: owner, requested: nil) }
        let asked = try allocator.allocate(
            store, for: Owner(containerID: "c2", ifname: "eth0"), requested: IPAddress("10.1.0.77"))
        #expect(asked.address.description == "10.1.0.77/24")
        #expect(throws: CNIError.self) {
            try allocator.allocate(
                store, for: Owner(containerID: "c3", ifname: "eth0"), requested: IPAddress("10.1.0.77"))
        }
        #expect(throws: CNIError.self) {
            try allocator.allocate(
                store, for: Owner(containerID: "c3", ifname: "eth0"), requested: IPAddress("10.1.0.1"))
        }
        #expect(throws: CNIError.self) {
            try allocator.allocate(
                store, for: Owner(containerID: "c3", ifname: "eth0"), requested: IPAddress("10.9.0.1"))
        }
    }

    @Test("Files added or removed behind the index's back (by the reference plugin) are seen")
    func foreignChanges() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let store = try DiskStore(dataDir: dir, network: "n")
            _ = try store.reserve(IPAddress("10.1.0.2")!, for: Owner(containerID: "a", ifname: "eth0"), setIndex: 0)
            store.commit()
        }
        try Data("b\r\neth1".utf8).write(to: URL(fileURLWithPath: dir + "/n/10.1.0.3"))
        try Data("old".utf8).write(to: URL(fileURLWithPath: dir + "/n/10.1.0.4"))
        try FileManager.default.removeItem(atPath: dir + "/n/10.1.0.2")
        let store = try DiskStore(dataDir: dir, network: "n")
        #expect(
            store.reservations == [
                IPAddress("10.1.0.3")!: Owner(containerID: "b", ifname: "eth1"),
                IPAddress("10.1.0.4")!: Owner(containerID: "old", ifname: nil),
            ])
        #expect(
            store.addresses(of: Owner(containerID: "old", ifname: "eth0")) == [IPAddress("10.1.0.4")!],
            "old-format files match by ID")
    }

    @Test("A data directory that is a file is error 7")
    func dataDirIsFile() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data().write(to: URL(fileURLWithPath: dir + "/file"))
        #expect(throws: CNIError.self) { try DiskStore(dataDir: dir + "/file", network: "n") }
    }

    @Test("resolv.conf parsing")
    func resolvConf() {
        let dns = ResolvConf.parse(
            "# c\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n; x\ndomain example.com\nsearch a.example b.example\noptions ndots:5 rotate\n"
        )
        #expect(
            dns
                == CNIResult.DNS(
                    nameservers: ["10.0.0.2", "10.0.0.3"], domain: "example.com", search: ["a.example", "b.example"],
                    options: ["ndots:5", "rotate"]))
    }
}
