import CNISkeleton
import Glibc
import Netlink
import PluginSupport
import Testing

@testable import TuningPlugin

/// tuning's ADD, CHECK and DEL against a fake container: sysctls and link attributes, the
/// backup file, restore on DEL, and the rollback of a failed ADD, without root.
@Suite("tuning flow against a fake kernel")
struct TuningFlowTests {
    static let prevResult =
        #"{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/ctr"}],"ips":[{"address":"10.1.2.5/24","interface":0}]}"#

    static func conf(_ dataDir: String) -> String {
        #"{"cniVersion":"1.0.0","name":"t","type":"tuning","mac":"c2:11:22:33:44:55","mtu":1400,"sysctl":{"net.ipv4.conf.eth0.arp_filter":"1"},"dataDir":"\#(dataDir)","prevResult":\#(prevResult)}"#
    }

    /// A node whose container has `eth0` (MTU 1500) and an `arp_filter` of 0.
    static func node() -> FakeNode {
        let node = FakeNode()
        node.container.links.append(.init(index: 2, name: "eth0", kind: "veth", up: true))
        node.containerSysctls.strict = true
        node.containerSysctls.values["net/ipv4/conf/eth0/arp_filter"] = "0"
        return node
    }

    static func temporaryDirectory() throws -> String {
        var template = Array("/tmp/cnit-tuning-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CNIError(.internalError, "mkdtemp failed") }
        return String(cString: made)
    }

    @Test("ADD writes the sysctl and the link attributes with a backup; CHECK; DEL restores and removes it")
    func addCheckDel() throws {
        let node = Self.node(), dir = try Self.temporaryDirectory()
        defer { _ = rmdir(dir) }
        let plugin = TuningPlugin(kernel: node.kernel())
        var result = try plugin.add(flowRequest(.add, Self.conf(dir)))
        #expect(node.containerSysctls.writes == ["net/ipv4/conf/eth0/arp_filter=1"])
        #expect(node.log == ["ctr: set link eth0", "ctr: set link eth0"], "MAC, then MTU")
        let eth0 = try #require(node.container.links.first { $0.name == "eth0" })
        #expect(eth0.mac == [0xc2, 0x11, 0x22, 0x33, 0x44, 0x55] && eth0.mtu == 1400)
        #expect(result.interfaces.first?.mac == "c2:11:22:33:44:55")
        #expect(access(dir + "/ctr1_eth0.json", F_OK) == 0, "the backup is written")

        result.cniVersion = "1.0.0"
        let checked = String(Self.conf(dir).split(separator: ",\"prevResult\"").first ?? "") + "}"
        try plugin.check(flowRequest(.check, withPrevResult(checked, result)))
        try plugin.del(flowRequest(.del, Self.conf(dir)))
        let restored = try #require(node.container.links.first { $0.name == "eth0" })
        #expect(restored.mtu == 1500 && restored.mac == [2, 0, 0, 0, 0, 2], "the original values are back")
        #expect(access(dir + "/ctr1_eth0.json", F_OK) != 0, "the backup is gone")
        let changes = node.log.count
        try plugin.del(flowRequest(.del, Self.conf(dir)))
        #expect(node.log.count == changes, "a second DEL changes nothing")
    }

    @Test("A failed link change restores the sysctl and the attributes, and removes the backup it made")
    func rollback() throws {
        let node = Self.node(), dir = try Self.temporaryDirectory()
        defer { _ = rmdir(dir) }
        var changes = 0
        node.container.fail = { entry in
            guard entry == "set link eth0" else { return nil }
            changes += 1
            return changes == 2 ? 22 : nil  // the MTU change fails
        }
        #expect(throws: (any Error).self) {
            try TuningPlugin(kernel: node.kernel()).add(flowRequest(.add, Self.conf(dir)))
        }
        #expect(changes == 4, "MAC set, MTU refused, then both restored")
        #expect(node.containerSysctls.writes == ["net/ipv4/conf/eth0/arp_filter=1", "net/ipv4/conf/eth0/arp_filter=0"])
        #expect(node.container.links.first { $0.name == "eth0" }?.mac == [2, 0, 0, 0, 0, 2])
        #expect(access(dir + "/ctr1_eth0.json", F_OK) != 0)
    }

    @Test("A sysctl the namespace does not have fails ADD and undoes the ones already written")
    func missingSysctl() throws {
        let node = Self.node(), dir = try Self.temporaryDirectory()
        defer { _ = rmdir(dir) }
        let conf = Self.conf(dir).replacing(
            #""sysctl":{"net.ipv4.conf.eth0.arp_filter":"1"}"#,
            with: #""sysctl":{"net.ipv4.conf.eth0.arp_filter":"1","net.ipv4.conf.eth0.nope":"1"}"#)
        #expect(throws: (any Error).self) { try TuningPlugin(kernel: node.kernel()).add(flowRequest(.add, conf)) }
        #expect(node.containerSysctls.writes == ["net/ipv4/conf/eth0/arp_filter=1", "net/ipv4/conf/eth0/arp_filter=0"])
        #expect(node.log.isEmpty, "no link attribute was touched")
    }

    @Test("Sysctls only: no interface is needed, and a value that cannot be read back is still written")
    func sysctlsOnly() throws {
        let node = FakeNode()
        node.containerSysctls.strict = true
        node.containerSysctls.values["net/ipv4/conf/all/arp_filter"] = "0"
        node.containerSysctls.writeOnly = ["net/ipv4/route/flush"]
        let dir = try Self.temporaryDirectory()
        defer { _ = rmdir(dir) }
        let conf =
            #"{"cniVersion":"1.0.0","name":"t","type":"tuning","sysctl":{"net.ipv4.conf.all.arp_filter":"1","net.ipv4.route.flush":"1"},"dataDir":"\#(dir)","prevResult":\#(Self.prevResult)}"#
        _ = try TuningPlugin(kernel: node.kernel()).add(flowRequest(.add, conf))
        #expect(node.containerSysctls.writes == ["net/ipv4/conf/all/arp_filter=1", "net/ipv4/route/flush=1"])
        #expect(node.log.isEmpty, "no link was looked up or changed")
    }
}
