import CNISkeleton
import Netfilter
import Netlink
@testable import PluginSupport
import Testing
@testable import BridgePlugin

/// A kernel stand-in that ACKs every request and keeps what was asked.
final class RecordingKernel: NetlinkTransport {
    let portID: UInt32 = 77
    var requests: [NetlinkMessage] = []
    private var lastSequence: UInt32 = 0

    func send(_ bytes: [UInt8]) throws(NetlinkError) {
        for message in try NetlinkMessage.parse(bytes) {
            requests.append(message)
            lastSequence = message.sequence
        }
    }

    func receive() throws(NetlinkError) -> [UInt8] {
        NetlinkMessage(
            type: .error, flags: [], sequence: lastSequence, portID: portID, payload: [UInt8](repeating: 0, count: 20)
        ).encoded()
    }

    /// The bridge VLAN operations requested, as (add?, vid, pvid, untagged).
    var vlanOperations: [(add: Bool, id: UInt16, pvid: Bool, untagged: Bool)] {
        requests.compactMap { message in
            guard message.type == .setLink || message.type == .delLink, message.payload.first == 7 else { return nil }
            // ifinfomsg (16) + IFLA_AF_SPEC header (4) + IFLA_BRIDGE_VLAN_INFO header (4) + flags, vid
            let p = message.payload
            guard p.count >= 28 else { return nil }
            let flags = UInt16(p[24]) | UInt16(p[25]) << 8
            let vid = UInt16(p[26]) | UInt16(p[27]) << 8
            return (message.type == .setLink, vid, flags & 2 != 0, flags & 4 != 0)
        }
    }
}

@Suite("bridge VLAN semantics against a recording fake of the kernel")
struct BridgeVlanTests {
    func conf(_ extra: String) throws -> BridgeConfig {
        let json = #"{"cniVersion":"1.0.0","name":"n","type":"bridge"\#(extra)}"#
        let config = try NetworkConfig(object: #require(try JSONParser.parse(json).objectValue))
        let request = CNIRequest(
            command: .add, containerID: "c", netns: "/x", ifname: "eth0", args: CNIArgs(""), path: [],
            stdin: Array(json.utf8), config: config)
        return try BridgeConfig(request)
    }

    func operations(_ extra: String) throws -> [String] {
        let kernel = RecordingKernel()
        try BridgeVlans.apply(RouteNetlink(connection: NetlinkConnection(transport: kernel)), port: 9, conf(extra))
        return kernel.vlanOperations.map {
            "\($0.add ? "add" : "del") \($0.id)\($0.pvid ? " pvid" : "")\($0.untagged ? " untagged" : "")"
        }
    }

    @Test("Access VLAN: the default VLAN leaves, the VLAN becomes PVID and untagged")
    func access() throws {
        #expect(try operations(#","vlan":100"#) == ["del 1", "add 100 pvid untagged"])
    }

    @Test("Trunk without an access VLAN: VLAN 1 stays native, trunk VLANs tagged, ranges expanded")
    func trunk() throws {
        #expect(
            try operations(#","vlanTrunk":[{"id":101},{"minID":200,"maxID":202}]"#)
                == ["del 1", "add 1 pvid untagged", "add 101", "add 200", "add 201", "add 202"])
    }

    @Test("Access and trunk together; preserveDefaultVlan keeps VLAN 1 untouched")
    func combined() throws {
        #expect(
            try operations(#","vlan":100,"vlanTrunk":[{"id":101}]"#) == ["del 1", "add 100 pvid untagged", "add 101"])
        #expect(try operations(#","vlan":100,"preserveDefaultVlan":true"#) == ["add 100 pvid untagged"])
    }

    @Test(
        "Trunk parameters are validated as the reference does",
        arguments: [
            (#","vlanTrunk":[{"minID":0,"maxID":5}]"#, "incorrect trunk minID parameter"),
            (#","vlanTrunk":[{"minID":5,"maxID":4095}]"#, "incorrect trunk maxID parameter"),
            (#","vlanTrunk":[{"minID":9,"maxID":5}]"#, "minID is greater than maxID in trunk parameter"),
            (#","vlanTrunk":[{"maxID":5}]"#, "minID is missing"),
            (#","vlanTrunk":[{"id":0}]"#, "incorrect trunk id parameter"),
            (#","vlan":-1"#, "invalid VLAN ID -1"),
        ])
    func invalid(extra: String, message: String) {
        do {
            _ = try conf(extra)
            Issue.record("accepted \(extra)")
        } catch let error as CNIError {
            #expect(error.code == .invalidNetworkConfig)
            #expect(error.msg.contains(message), "\(error.msg)")
        } catch {
            Issue.record("\(error)")
        }
    }
}

@Suite("nftables transactions rendered as nft text")
struct NFTRenderingTests {
    @Test("Masquerade: the structure, a subnet's chain and a source's element, as nft text")
    func masquerade() {
        var tx = NFTTransaction(family: .inet, table: Masquerade.table)
        Masquerade.addStructure(&tx)
        let subnet = Masquerade.SubnetChain(IPPrefix("192.168.1.1/24")!, exempt: [IPPrefix("10.0.0.0/8")!])
        for rule in subnet.rules { tx.add(.addRule(rule)) }
        #expect(
            tx.text == """
                add table inet cni_plugins_masquerade { comment "Masquerading for plugins from github.com/containernetworking/plugins" ; }
                add chain inet cni_plugins_masquerade masq_checks { comment "Masquerade traffic from certain IPs to any (non-multicast) IP outside their subnet" ; }
                add map inet cni_plugins_masquerade masq_sources_v4 { type ipv4_addr : verdict ; }
                add map inet cni_plugins_masquerade masq_sources_v6 { type ipv6_addr : verdict ; }
                add chain inet cni_plugins_masquerade postrouting { type nat hook postrouting priority 100 ; }
                flush chain inet cni_plugins_masquerade postrouting
                add rule inet cni_plugins_masquerade postrouting ip daddr == 224.0.0.0/4 return
                add rule inet cni_plugins_masquerade postrouting ip6 daddr == ff00::/8 return
                add rule inet cni_plugins_masquerade postrouting ip saddr vmap @masq_sources_v4
                add rule inet cni_plugins_masquerade postrouting ip6 saddr vmap @masq_sources_v6
                add rule inet cni_plugins_masquerade postrouting goto masq_checks
                add rule inet cni_plugins_masquerade \(subnet.name) ip daddr == 10.0.0.0/8 return
                add rule inet cni_plugins_masquerade \(subnet.name) ip daddr != 192.168.1.0/24 masquerade
                """)
        #expect(subnet.name.hasPrefix("masq_") && subnet.name.utf8.count == 21)
    }

    @Test("Rule comments hash like the reference's: sha512 prefixes of network and ifname:containerID")
    func comments() {
        #expect(
            AttachmentTag(network: "alternate", ifname: "net1", containerID: "three").comment
                == "82783ef24bdc7036-acb19d111858e348, net: alternate, if: net1, id: three")
        let long = AttachmentTag(network: "n", ifname: "eth0", containerID: String(repeating: "x", count: 200)).comment
        #expect(long.utf8.count == 128)
    }

    @Test("MAC spoof check objects as the reference names them")
    func spoofCheck() {
        let tx = MacSpoofCheck.setupTransaction(
            hostInterface: "net0", mac: MACAddress(bytes: [2, 0, 0, 0, 0x12, 0x34]), containerID: "container99",
            ifname: "net1")
        #expect(
            tx.text.contains(
                "add chain bridge nat PREROUTING { type filter hook prerouting priority -300 ; policy accept ; }"))
        #expect(
            tx.text.contains(
                #"add rule bridge nat PREROUTING meta iifname == "net0" jump cni-br-iface-container99-net1 comment "macspoofchk-container99-net1""#
            ))
        #expect(
            tx.text.contains(
                "add rule bridge nat cni-br-iface-container99-net1-mac ether saddr == 02:00:00:00:12:34 return"))
        #expect(tx.text.contains("add rule bridge nat cni-br-iface-container99-net1-mac drop"))
    }
}
