import CNISkeleton
import Netlink
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
        NetlinkMessage(type: .error, flags: [], sequence: lastSequence, portID: portID, payload: [UInt8](repeating: 0, count: 20)).encoded()
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
        let request = CNIRequest(command: .add, containerID: "c", netns: "/x", ifname: "eth0", args: CNIArgs(""), path: [],
                                 stdin: Array(json.utf8), config: config)
        return try BridgeConfig(request)
    }

    func operations(_ extra: String) throws -> [String] {
        let kernel = RecordingKernel()
        try BridgeVlans.apply(RouteNetlink(connection: NetlinkConnection(transport: kernel)), port: 9, conf(extra))
        return kernel.vlanOperations.map { "\($0.add ? "add" : "del") \($0.id)\($0.pvid ? " pvid" : "")\($0.untagged ? " untagged" : "")" }
    }

    @Test("Access VLAN: the default VLAN leaves, the VLAN becomes PVID and untagged")
    func access() throws {
        #expect(try operations(#","vlan":100"#) == ["del 1", "add 100 pvid untagged"])
    }

    @Test("Trunk without an access VLAN: VLAN 1 stays native, trunk VLANs tagged, ranges expanded")
    func trunk() throws {
        #expect(try operations(#","vlanTrunk":[{"id":101},{"minID":200,"maxID":202}]"#)
            == ["del 1", "add 1 pvid untagged", "add 101", "add 200", "add 201", "add 202"])
    }

    @Test("Access and trunk together; preserveDefaultVlan keeps VLAN 1 untouched")
    func combined() throws {
        #expect(try operations(#","vlan":100,"vlanTrunk":[{"id":101}]"#) == ["del 1", "add 100 pvid untagged", "add 101"])
        #expect(try operations(#","vlan":100,"preserveDefaultVlan":true"#) == ["add 100 pvid untagged"])
    }

    @Test("Trunk parameters are validated as the reference does", arguments: [
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
