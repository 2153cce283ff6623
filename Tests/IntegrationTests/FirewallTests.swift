import Foundation
import Testing
import TestSupport

@Suite(
    "firewall after bridge: nftables forward rules, admin chain, bridge isolation with real traffic, DEL, GC",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct FirewallTests {
    /// Attaches `pod` to bridge `cnitfw<letter>0` (subnet 10.8<n>.0.0/24) and returns bridge's result.
    func attach(_ node: Node, _ pod: TestNamespace, network n: Int, id: String) throws -> String {
        let bridge =
            #"{"cniVersion":"1.0.0","name":"fw\#(n)","type":"bridge","bridge":"cnitfw\#(n)","isDefaultGateway":true,"ipam":{"type":"host-local","subnet":"10.8\#(n).0.0/24","dataDir":"\#(node.dataDir)"}}"#
        let added = try node.run("bridge", "ADD", config: bridge, id: id, pod: pod)
        guard added.status == 0 else { throw TestFailure("bridge: \(added)") }
        return added.stdout
    }

    func firewall(network n: Int, prevResult: String?, extra: String = "", version: String = "1.0.0") -> String {
        #"{"cniVersion":"\#(version)","name":"fw\#(n)","type":"firewall"\#(extra)"#
            + (prevResult.map { #","prevResult":\#($0)}"# } ?? "}")
    }

    @Test(
        "ADD passes prevResult through and installs the reference's chains in nftables; CHECK; DEL needs no prevResult")
    func addCheckDel() throws {
        let node = try Node("fwa")
        defer { node.tearDown() }
        let pod = try node.pod()
        let previous = try attach(node, pod, network: 1, id: "ctr1")
        let config = firewall(network: 1, prevResult: previous)
        let added = try node.run("firewall", "ADD", config: config, id: "ctr1", pod: pod)
        #expect(added.status == 0, "\(added)")
        let expected = try JSONSerialization.jsonObject(with: Data(previous.utf8)) as? NSDictionary
        #expect(try added.json() as? NSDictionary == expected, "the result is prevResult")
        let rules = try node.nftRuleset()
        #expect(rules.contains("type filter hook forward priority filter; policy accept;"), "\(rules)")
        #expect(rules.contains("jump CNI-FORWARD comment \"CNI firewall plugin rules\""), "\(rules)")
        #expect(rules.contains("jump CNI-ADMIN comment \"CNI firewall plugin admin overrides: CNI-ADMIN\""), "\(rules)")
        #expect(rules.contains("ip daddr @pod_addresses_v4 ct state established,related accept"), "\(rules)")
        #expect(rules.contains("ip saddr @pod_addresses_v4 accept"), "\(rules)")
        #expect(rules.contains("10.81.0.2 comment \""), "\(rules)")
        #expect(rules.contains("net: fw1, if: eth0, id: ctr1"), "\(rules)")
        #expect(try node.run("firewall", "CHECK", config: config, id: "ctr1", pod: pod).status == 0)

        // A second ADD of the same attachment replaces its rules instead of duplicating them.
        #expect(try node.run("firewall", "ADD", config: config, id: "ctr1", pod: pod).status == 0)
        #expect(try node.nftRuleset().components(separatedBy: "10.81.0.2 comment").count == 2)
        #expect(try node.nftRuleset().components(separatedBy: "jump CNI-ADMIN").count == 2)

        let del = firewall(network: 1, prevResult: nil)
        #expect(try node.run("firewall", "DEL", config: del, id: "ctr1", pod: pod).status == 0)
        #expect(try node.run("firewall", "DEL", config: del, id: "ctr1", pod: pod).status == 0)
        #expect(try !node.nftRuleset().contains("10.81.0.2"))
        let checked = try node.run("firewall", "CHECK", config: config, id: "ctr1", pod: pod)
        #expect(
            try checked.status == 1 && (checked.object()["msg"] as? String)?.contains("expected rules") == true,
            "\(checked)")
    }

    @Test("The operator's admin chain is evaluated first: a drop there cuts the pod off, removing it restores traffic")
    func adminChain() throws {
        let node = try Node("fwm")
        defer { node.tearDown() }
        let (a, b) = (try node.pod("fwma"), try node.pod("fwmb"))
        let prevA = try attach(node, a, network: 1, id: "a"), prevB = try attach(node, b, network: 2, id: "b")
        let extra = #","iptablesAdminChainName":"OPS""#
        #expect(
            try node.run(
                "firewall", "ADD", config: firewall(network: 1, prevResult: prevA, extra: extra), id: "a", pod: a
            ).status == 0)
        #expect(
            try node.run(
                "firewall", "ADD", config: firewall(network: 2, prevResult: prevB, extra: extra), id: "b", pod: b
            ).status == 0)
        #expect(try ping(a, "10.82.0.2"), "routed between bridges")
        try Command.checked([
            "ip", "netns", "exec", node.ns.name, "nft", "add", "rule", "inet", "cni_plugins_firewall", "OPS", "ip",
            "saddr", "10.81.0.2", "drop",
        ])
        #expect(try !ping(a, "10.82.0.2"), "the admin drop applies")
        // ADD of another pod leaves the operator's chain alone.
        let c = try node.pod("fwmc")
        let prevC = try attach(node, c, network: 1, id: "c")
        #expect(
            try node.run(
                "firewall", "ADD", config: firewall(network: 1, prevResult: prevC, extra: extra), id: "c", pod: c
            ).status == 0)
        #expect(try node.nftRuleset().contains("ip saddr 10.81.0.2 drop"))
        try Command.checked([
            "ip", "netns", "exec", node.ns.name, "nft", "flush", "chain", "inet", "cni_plugins_firewall", "OPS",
        ])
        #expect(try ping(a, "10.82.0.2"))
    }

    @Test(
        "ingressPolicy same-bridge drops traffic between isolated bridges; open bridges still reach each other; GC removes the rules of a deleted bridge"
    )
    func isolation() throws {
        let node = try Node("fwi")
        defer { node.tearDown() }
        let (a, b, c) = (try node.pod("fwia"), try node.pod("fwib"), try node.pod("fwic"))
        let prevA = try attach(node, a, network: 1, id: "a"), prevB = try attach(node, b, network: 2, id: "b")
        let prevC = try attach(node, c, network: 3, id: "c")
        let same = #","ingressPolicy":"same-bridge""#
        #expect(
            try node.run(
                "firewall", "ADD", config: firewall(network: 1, prevResult: prevA, extra: same), id: "a", pod: a
            ).status == 0)
        #expect(
            try node.run(
                "firewall", "ADD", config: firewall(network: 2, prevResult: prevB, extra: same), id: "b", pod: b
            ).status == 0)
        #expect(
            try node.run("firewall", "ADD", config: firewall(network: 3, prevResult: prevC), id: "c", pod: c).status
                == 0)
        let rules = try node.nftRuleset()
        #expect(rules.contains("iifname \"cnitfw1\" oifname != \"cnitfw1\" jump CNI-ISOLATION-STAGE-2"), "\(rules)")
        #expect(rules.contains("oifname \"cnitfw2\" drop"), "\(rules)")
        #expect(try !ping(a, "10.82.0.2"), "same-bridge networks are isolated from each other")
        #expect(try !ping(b, "10.81.0.2"))
        #expect(try ping(c, "10.83.0.1") && ping(a, "10.81.0.1"), "each pod reaches its own gateway")
        #expect(
            try node.run(
                "firewall", "CHECK", config: firewall(network: 1, prevResult: prevA, extra: same), id: "a", pod: a
            ).status == 0)

        // Bridge 2 goes away with its pod: GC drops its isolation rules, bridge 1's stay.
        #expect(
            try node.run("firewall", "DEL", config: firewall(network: 2, prevResult: nil), id: "b", pod: b).status == 0)
        try Command.checked(["ip", "-n", node.ns.name, "link", "delete", "cnitfw2"])
        let gc = #"{"cniVersion":"1.1.0","name":"fw2","type":"firewall","cni.dev/valid-attachments":[]}"#
        let collected = try node.run("firewall", "GC", config: gc, id: "", pod: nil)
        #expect(collected.status == 0, "\(collected)")
        let after = try node.nftRuleset()
        #expect(!after.contains("cnitfw2"), "\(after)")
        #expect(after.contains("oifname \"cnitfw1\" drop"))
    }

    @Test("ingressPolicy isolated also drops traffic within the bridge's routed path")
    func isolatedRules() throws {
        let node = try Node("fws")
        defer { node.tearDown() }
        let pod = try node.pod()
        let previous = try attach(node, pod, network: 1, id: "ctr1")
        let config = firewall(network: 1, prevResult: previous, extra: #","ingressPolicy":"isolated""#)
        #expect(try node.run("firewall", "ADD", config: config, id: "ctr1", pod: pod).status == 0)
        #expect(
            try node.nftRuleset().contains(
                "iifname \"cnitfw1\" oifname \"cnitfw1\" drop comment \"CNI firewall plugin rules (ingressPolicy: isolated) bridge: cnitfw1\""
            ))
        #expect(try node.run("firewall", "CHECK", config: config, id: "ctr1", pod: pod).status == 0)
    }

    @Test("GC removes the address rules of attachments that are not valid, only in its network")
    func garbageCollection() throws {
        let node = try Node("fwg")
        defer { node.tearDown() }
        let (a, b, c) = (try node.pod("fwga"), try node.pod("fwgb"), try node.pod("fwgc"))
        let prevA = try attach(node, a, network: 1, id: "a"), prevB = try attach(node, b, network: 1, id: "b")
        let prevC = try attach(node, c, network: 2, id: "c")
        for (id, pod, n, prev) in [("a", a, 1, prevA), ("b", b, 1, prevB), ("c", c, 2, prevC)] {
            #expect(
                try node.run("firewall", "ADD", config: firewall(network: n, prevResult: prev), id: id, pod: pod).status
                    == 0)
        }
        let gc =
            #"{"cniVersion":"1.1.0","name":"fw1","type":"firewall","cni.dev/valid-attachments":[{"containerID":"a","ifname":"eth0"}]}"#
        #expect(try node.run("firewall", "GC", config: gc, id: "", pod: nil).status == 0)
        #expect(try node.run("firewall", "GC", config: gc, id: "", pod: nil).status == 0)
        let rules = try node.nftRuleset()
        #expect(rules.contains("10.81.0.2 comment"), "valid attachment kept")
        #expect(!rules.contains("10.81.0.3 comment"), "stale attachment removed")
        #expect(rules.contains("10.82.0.2 comment"), "other network untouched")
        let status = #"{"cniVersion":"1.1.0","name":"fw1","type":"firewall"}"#
        #expect(try node.run("firewall", "STATUS", config: status, id: "", pod: nil).status == 0)
    }

    @Test(
        "Bad input: unknown ingress policy (7), missing prevResult, policy without an interface, spec version below 0.3.0 (1)"
    )
    func invalid() throws {
        let node = try Node("fwx")
        defer { node.tearDown() }
        let pod = try node.pod()
        let previous = try attach(node, pod, network: 1, id: "ctr1")
        let bad = try node.run(
            "firewall", "ADD", config: firewall(network: 1, prevResult: previous, extra: #","ingressPolicy":"strict""#),
            id: "ctr1", pod: pod)
        #expect(try bad.status == 1 && bad.object()["code"] as? Int == 7)
        #expect((try bad.object()["msg"] as? String) == "unknown ingress policy: \"strict\"")
        let noPrev = try node.run(
            "firewall", "ADD", config: firewall(network: 1, prevResult: nil), id: "ctr1", pod: pod)
        #expect((try noPrev.object()["msg"] as? String) == "missing prevResult from earlier plugin")
        let bare = #"{"cniVersion":"1.0.0","ips":[{"address":"10.81.0.9/24"}]}"#
        let noIf = try node.run(
            "firewall", "ADD",
            config: firewall(network: 1, prevResult: bare, extra: #","ingressPolicy":"same-bridge""#), id: "ctr1",
            pod: pod)
        #expect(
            (try noIf.object()["msg"] as? String)?.contains("make sure to chain \"firewall\" plugin with \"bridge\"")
                == true, "\(noIf)")
        let old = try node.run(
            "firewall", "ADD", config: firewall(network: 1, prevResult: previous, version: "0.2.0"), id: "ctr1",
            pod: pod)
        #expect(try old.status == 1 && old.object()["code"] as? Int == 1, "\(old)")
        #expect(try !node.nftRuleset().contains("cni_plugins_firewall"), "no failed ADD left a table")
    }

    @Test("Rules of the layout before the sets stay until their attachment's DEL removes them")
    func migration() throws {
        let node = try Node("fwm")
        defer { node.tearDown() }
        let (a, b) = (try node.pod("fwma"), try node.pod("fwmb"))
        let prevA = try attach(node, a, network: 1, id: "a"), prevB = try attach(node, b, network: 1, id: "b")
        let hash = try Command.checked([
            "python3", "-c",
            "import hashlib;h=lambda s:hashlib.sha512(s.encode()).hexdigest()[:16];print(h('fw1')+'-'+h('eth0:a'))",
        ]).trimmingCharacters(in: .whitespacesAndNewlines)
        let comment = "\(hash), net: fw1, if: eth0, id: a"
        let layout = """
            table inet cni_plugins_firewall {
              chain CNI-FORWARD {
                ip daddr 10.81.0.2 ct state established,related accept comment "\(comment)"
                ip saddr 10.81.0.2 accept comment "\(comment)"
              }
              chain CNI-ISOLATION-STAGE-1 { }
              chain CNI-ISOLATION-STAGE-2 { }
              chain forward {
                type filter hook forward priority 0; policy accept;
                jump CNI-ISOLATION-STAGE-1 comment "\(FirewallRulesText.isolation)"
                jump CNI-FORWARD comment "CNI firewall plugin rules"
              }
            }
            """
        _ = try Command.run(["ip", "netns", "exec", node.ns.name, "nft", "-f", "-"], stdin: layout)
        #expect(try node.nftRuleset().contains("ip saddr 10.81.0.2 accept"), "the old layout is in place")
        let added = try node.run("firewall", "ADD", config: firewall(network: 1, prevResult: prevB), id: "b", pod: b)
        #expect(added.status == 0, "\(added)")
        let rules = try node.nftRuleset()
        #expect(rules.contains("ip saddr 10.81.0.2 accept") && rules.contains("10.81.0.3 comment"), "\(rules)")
        #expect(
            try node.run("firewall", "CHECK", config: firewall(network: 1, prevResult: prevA), id: "a", pod: a).status
                == 0)
        for (id, pod) in [("a", a), ("b", b)] {
            #expect(
                try node.run("firewall", "DEL", config: firewall(network: 1, prevResult: nil), id: id, pod: pod).status
                    == 0)
        }
        let left = try node.nftRuleset()
        #expect(!left.contains("10.81.0.2") && !left.contains("10.81.0.3"), "\(left)")
    }
}

/// Comments of the firewall layout, as the plugin writes them.
enum FirewallRulesText {
    static let isolation = "CNI firewall plugin rules (ingressPolicy: same-bridge|isolated)"
}
