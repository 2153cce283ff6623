import Foundation
import Testing
import TestSupport

/// The fixed nftables structure (tables, base chains and their jumps) is made once and left
/// alone by later ADDs, since re-adding a base chain or flushing one makes closing the netlink
/// socket wait for an RCU grace period on every ADD; when damaged, the next ADD repairs it.
@Suite(
    "nftables structure: created once, untouched by later ADDs, repaired when damaged",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct NftStructureTests {
    /// The rule handles of a chain, as `nft -a -j` lists them.
    func handles(_ node: Node, _ family: String, _ table: String, _ chain: String) throws -> [Int] {
        let out = try Command.checked([
            "ip", "netns", "exec", node.ns.name, "nft", "-a", "-j", "list", "chain", family, table, chain,
        ])
        let root = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
        let items = root?["nftables"] as? [[String: Any]] ?? []
        return items.compactMap { ($0["rule"] as? [String: Any])?["handle"] as? Int }
    }

    @Test("masquerade, portmap and firewall base chains keep their rules (same handles) across ADDs")
    func untouched() throws {
        let node = try Node("nfs")
        defer { node.tearDown() }
        let chains = [
            ("inet", "cni_plugins_masquerade", "postrouting"), ("ip", "cni_hostport", "prerouting"),
            ("ip", "cni_hostport", "hostports_all"), ("inet", "cni_plugins_firewall", "forward"),
        ]
        var first: [[Int]] = []
        for i in 0..<3 {
            let pod = try node.pod()
            let bridge =
                #"{"cniVersion":"1.0.0","name":"nfs","type":"bridge","bridge":"cnitnfs0","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","subnet":"10.54.0.0/24","dataDir":"\#(node.dataDir)"}}"#
            let added = try node.run("bridge", "ADD", config: bridge, id: "ctr\(i)", pod: pod)
            #expect(added.status == 0, "\(added)")
            let portmap =
                #"{"cniVersion":"1.0.0","name":"nfs","type":"portmap","runtimeConfig":{"portMappings":[{"hostPort":\#(31000 + i),"containerPort":80}]},"prevResult":\#(added.stdout)}"#
            #expect(try node.run("portmap", "ADD", config: portmap, id: "ctr\(i)", pod: pod).status == 0)
            let firewall = #"{"cniVersion":"1.0.0","name":"nfs","type":"firewall","prevResult":\#(added.stdout)}"#
            #expect(try node.run("firewall", "ADD", config: firewall, id: "ctr\(i)", pod: pod).status == 0)
            let now = try chains.map { try handles(node, $0.0, $0.1, $0.2) }
            if i == 0 {
                first = now
            } else {
                #expect(now == first, "ADD \(i) re-created the structure: \(now) vs \(first)")
            }
            #expect(now.allSatisfy { !$0.isEmpty })
        }
        // An operator (or firewalld) flushes a base chain: the next ADD puts it back.
        try Command.checked([
            "ip", "netns", "exec", node.ns.name, "nft", "flush", "chain", "inet", "cni_plugins_masquerade",
            "postrouting",
        ])
        let pod = try node.pod()
        let bridge =
            #"{"cniVersion":"1.0.0","name":"nfs","type":"bridge","bridge":"cnitnfs0","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","subnet":"10.54.0.0/24","dataDir":"\#(node.dataDir)"}}"#
        #expect(try node.run("bridge", "ADD", config: bridge, id: "ctr9", pod: pod).status == 0)
        #expect(try handles(node, "inet", "cni_plugins_masquerade", "postrouting").count == 5, "repaired")
    }
}
