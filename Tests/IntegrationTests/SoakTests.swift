import Foundation
import Testing
import TestSupport

/// Soak: many ADD/DEL cycles must leave nothing and must not slow down, and the dhcp daemon
/// must hold its descriptors and memory flat. CI runs a short soak; the full sizes run with
/// `sudo SWIFT_CNI_SOAK_CYCLES=2000 SWIFT_CNI_DHCP_SOAK_CYCLES=1000 swift test --filter SoakTests`.
@Suite(
    "Soak: ADD/DEL cycles leave nothing; the dhcp daemon stays flat", .enabled(if: TestEnvironment.isRoot, "needs root")
)
struct SoakTests {
    static func cycles(_ variable: String, default value: Int) -> Int {
        ProcessInfo.processInfo.environment[variable].flatMap(Int.init).map { max($0, 10) } ?? value
    }

    static func median(_ values: ArraySlice<Double>) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    @Test("podman's chain (bridge with ipMasq, portmap, firewall, tuning): every cycle cleans up, and nothing piles up")
    func podmanChain() throws {
        let count = Self.cycles("SWIFT_CNI_SOAK_CYCLES", default: 150)
        let node = try Node("soak")
        defer { node.tearDown() }
        let binaries = TestEnvironment.pluginDirectory
        var chain = PluginChain(
            plugins: [
                (
                    "bridge",
                    #""bridge":"cnitsk0","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","subnet":"10.91.0.0/24","dataDir":"\#(node.dataDir)/ipam"}"#
                ),
                (
                    "portmap",
                    #""runtimeConfig":{"portMappings":[{"hostPort":30100,"containerPort":80,"protocol":"tcp"}]}"#
                ),
                ("firewall", ""),
                ("tuning", #""mtu":1400,"dataDir":"\#(node.dataDir)/tuning""#),
            ], network: "soak")
        let pod = try node.pod("sk")
        let warm = try chain.add(node, pod: pod, binaries: binaries)
        try #require(warm.failed == nil, "\(String(describing: warm.last))")
        _ = try chain.del(node, pod: pod, binaries: binaries, result: warm.last?.stdout ?? "{}")
        let baseline = try NodeState(node)
        var seconds: [Double] = []
        for cycle in 0..<count {
            chain.containerID = "soak-\(cycle)"
            let start = Date()
            let added = try chain.add(node, pod: pod, binaries: binaries)
            try #require(added.failed == nil, "cycle \(cycle): \(String(describing: added.last))")
            let failures = try chain.del(node, pod: pod, binaries: binaries, result: added.last?.stdout ?? "{}")
            seconds.append(Date().timeIntervalSince(start))
            try #require(failures.isEmpty, "cycle \(cycle): \(failures)")
        }
        let left = try NodeState(node).difference(from: baseline)
        #expect(left.isEmpty, "after \(count) cycles: \(left)")
        #expect(try node.links().filter { $0.hasPrefix("veth") }.isEmpty)
        #expect(node.reservations("soak").isEmpty)
        let tenth = max(count / 10, 1)
        let first = Self.median(seconds.prefix(tenth)), last = Self.median(seconds.suffix(tenth))
        print(
            "soak: \(count) cycles of podman's chain; median ADD+DEL of the first \(tenth): "
                + String(
                    format: "%.1f ms, of the last %d: %.1f ms (x%.2f)", first * 1000, tenth, last * 1000, last / first))
        // Timing is judged only in a full-size run an operator starts; CI's machines are shared.
        if ProcessInfo.processInfo.environment["SWIFT_CNI_SOAK_CYCLES"] != nil {
            #expect(last <= first * 1.2, "the last cycles are slower: \(first) s -> \(last) s")
        }
    }

    /// The daemon's open descriptors and resident memory (kB).
    static func usage(_ pid: String) -> (fds: Int, rss: Int) {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let rss = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }.flatMap {
            Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return (fds, rss ?? -1)
    }

    @Test(
        "The dhcp daemon through ADD/DEL cycles against udhcpd: descriptors flat, memory flat",
        .enabled(if: FileManager.default.fileExists(atPath: "/bin/busybox"), "needs busybox (udhcpd)"))
    func dhcpDaemon() throws {
        let count = Self.cycles("SWIFT_CNI_DHCP_SOAK_CYCLES", default: 60)
        let lab = try DhcpLab("dhs")
        defer { lab.tearDown() }
        let pid = try String(contentsOfFile: lab.pidfile, encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines)
        let pod = try lab.node.pod()
        var early: (fds: Int, rss: Int) = (0, 0)
        for cycle in 0..<count {
            let id = "dsoak-\(cycle)"
            let added = try lab.node.run("bridge", "ADD", config: lab.config(), id: id, pod: pod)
            try #require(added.status == 0, "cycle \(cycle): \(added)\n\(lab.daemonLog)")
            let deleted = try lab.node.run("bridge", "DEL", config: lab.config(), id: id, pod: pod)
            try #require(deleted.status == 0, "cycle \(cycle): \(deleted)")
            if cycle == 4 { early = Self.usage(pid) }
        }
        let late = Self.usage(pid)
        print(
            "dhcp daemon after \(count) cycles: \(late.fds) fds (\(early.fds) at cycle 5), RSS \(late.rss) kB (\(early.rss) kB)"
        )
        #expect(late.fds == early.fds, "descriptors leak: \(early.fds) -> \(late.fds)")
        #expect(late.rss <= early.rss + 1024, "memory grows: \(early.rss) kB -> \(late.rss) kB")
        #expect(
            ((try? FileManager.default.contentsOfDirectory(atPath: lab.stateDir)) ?? []).isEmpty, "no saved lease left")
    }
}
