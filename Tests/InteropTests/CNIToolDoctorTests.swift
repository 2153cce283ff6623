import Foundation
import Testing
import TestSupport

/// `cni doctor`: each leak made on purpose is found, `--fix` removes it, a live attachment is
/// left alone.
@Suite(
    "cni doctor",
    .enabled(if: LibcniDriver.unavailableReason == nil, Comment(rawValue: LibcniDriver.unavailableReason ?? "")))
struct CNIToolDoctorTests {
    @Test("A gone attachment's reservation, nftables elements, tuning backup, bridge port and IFB; --fix removes them")
    func leaks() throws {
        let scratch = try CNIToolRunTests.Scratch("cnitd", tuningDir: true)
        defer { scratch.tearDown() }
        #expect(try scratch.cni(["run", "add", "cnit-tool", scratch.pod.path]).status == 0)
        #expect(try scratch.cni(["doctor"]).stdout == "nothing found\n", "a live attachment is no leak")

        // What an attachment the runtime forgot left: a reservation (old enough not to be an
        // ADD in flight), its portmap and firewall elements, and a tuning backup.
        let reservation = scratch.data + "/cnit-tool/10.93.0.77"
        try "ghost\r\neth0".write(toFile: reservation, atomically: true, encoding: .utf8)
        try Command.checked(["touch", "-d", "2 minutes ago", reservation])
        let prev =
            #"{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/x"}],"ips":[{"address":"10.93.0.77/24","interface":0}]}"#
        for plugin in ["portmap", "firewall"] {
            var call = PluginInvocation(plugin: plugin, command: "ADD")
            call.containerID = "ghost"
            call.netns = scratch.pod.path
            let conf =
                #"{"cniVersion":"1.0.0","name":"cnit-tool","type":"\#(plugin)","runtimeConfig":{"portMappings":[{"hostPort":18094,"containerPort":80}]},"prevResult":\#(prev)}"#
            let done = try call.run(stdin: conf, node: scratch.node)
            #expect(done.status == 0, "\(plugin): \(done)")
        }
        try "{}".write(toFile: scratch.tuning + "/ghost_eth0.json", atomically: true, encoding: .utf8)
        // Temporaries of writers killed mid-write (pid 4194303 is above any pid this machine hands out).
        let temporaries = [
            scratch.data + "/cnit-tool/.swift-cni/i.4194303", scratch.tuning + "/.ghost_eth0.json.4194303",
        ]
        for file in temporaries { try "x".write(toFile: file, atomically: false, encoding: .utf8) }
        // A port of the network's bridge no cached attachment names, and an IFB of bandwidth's.
        let ip = ["ip", "-n", scratch.node.name, "link"]
        try Command.checked(ip + ["add", "veth0badc0de", "type", "veth", "peer", "name", "cnitstray1"])
        try Command.checked(ip + ["set", "veth0badc0de", "master", "cnittool0"])
        try Command.checked(ip + ["add", "bwp0123456789ab", "type", "ifb"])

        let found = try scratch.cni(["doctor"])
        #expect(found.status == 1)
        for leak in [
            "reservation 10.93.0.77", "ip cni_hostport element of hostport_map owned by \"ghost\"",
            "inet cni_plugins_firewall element of pod_addresses_v4", "tuning backup",
            "veth veth0badc0de on a CNI bridge", "ifb bwp0123456789ab", "temporary file \(temporaries[0])",
            "temporary file \(temporaries[1])",
        ] {
            #expect(found.stdout.contains(leak), "\(leak): \(found.stdout)")
        }
        #expect(!found.stdout.contains("10.93.0.2 "), "the live pod's reservation is not a leak")
        let fixed = try scratch.cni(["doctor", "--fix"])
        #expect(fixed.status == 1 && !fixed.stdout.contains("not removed"), "\(fixed)")
        #expect(try scratch.cni(["doctor"]).stdout == "nothing found\n")
        #expect(([reservation] + temporaries).allSatisfy { !FileManager.default.fileExists(atPath: $0) })
        let links = try scratch.node.run(["ip", "-o", "link"]).stdout
        #expect(!links.contains("veth0badc0de") && !links.contains("bwp0123456789ab"), "\(links)")
        #expect(try scratch.cni(["run", "check", "cnit-tool", scratch.pod.path]).status == 0, "the live pod is intact")
        #expect(try scratch.cni(["run", "del", "cnit-tool", scratch.pod.path]).status == 0)
        #expect(try !scratch.node.run(["nft", "list", "ruleset"]).stdout.contains("ghost"))
    }
}
