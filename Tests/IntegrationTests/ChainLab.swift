import Foundation
import TestSupport

/// One plugin chain on a node, run as a runtime runs it: the ADD (each plugin given the
/// previous one's result), DEL with the cached result, or the cleanup after a failed ADD (DEL
/// of every plugin in reverse order without a prevResult, as libcni has no cached result),
/// then GC with the attachment not valid.
struct PluginChain {
    /// The network's plugins: type and the keys of its config (without name and cniVersion).
    var plugins: [(type: String, keys: String)]
    var network = "death"
    var containerID = "ctr-death"

    func config(_ index: Int, prevResult: String?) -> String {
        let (type, keys) = plugins[index]
        var text = #"{"cniVersion":"1.1.0","name":"\#(network)","type":"\#(type)""#
        if !keys.isEmpty { text += "," + keys }
        if let prevResult { text += #","prevResult":\#(prevResult)"# }
        return text + "}"
    }

    /// ADD of the whole chain with `environment` added; the first failure ends it. Returns
    /// the index of the plugin that failed (nil when the chain completed) and its result.
    func add(_ node: Node, pod: TestNamespace, binaries: String, environment: [String: String] = [:])
        throws -> (failed: Int?, last: CommandResult?)
    {
        var previous: String? = nil
        var last: CommandResult? = nil
        for index in plugins.indices {
            let result = try run(node, "ADD", config(index, prevResult: previous), pod: pod, binaries, environment)
            last = result
            if result.status != 0 { return (index, result) }
            previous = result.stdout
        }
        return (nil, last)
    }

    /// DEL of every plugin, last first, with the chain's result as prevResult (libcni's cache).
    func del(_ node: Node, pod: TestNamespace, binaries: String, result: String) throws -> [String] {
        var failures: [String] = []
        for index in plugins.indices.reversed() {
            let outcome = try run(node, "DEL", config(index, prevResult: result), pod: pod, binaries, [:])
            if outcome.status != 0 { failures.append("DEL \(plugins[index].type): \(outcome)") }
        }
        return failures
    }

    /// DEL of every plugin, last first, without prevResult; then GC of each with no valid
    /// attachment. Returns the failures, if any.
    func cleanUp(_ node: Node, pod: TestNamespace?, binaries: String) throws -> [String] {
        var failures: [String] = []
        for index in plugins.indices.reversed() {
            let result = try run(node, "DEL", config(index, prevResult: nil), pod: pod, binaries, [:])
            if result.status != 0 { failures.append("DEL \(plugins[index].type): \(result)") }
        }
        for index in plugins.indices {
            let gc = String(config(index, prevResult: nil).dropLast()) + #","cni.dev/valid-attachments":[]}"#
            let result = try run(node, "GC", gc, pod: nil, binaries, [:])
            if result.status != 0 { failures.append("GC \(plugins[index].type): \(result)") }
        }
        return failures
    }

    /// ADD of plugin `index` (its prevResult given), SIGKILLed after `delay` microseconds
    /// unless it ends first. Returns whether it was killed and, if not, its stdout.
    func addKilled(_ index: Int, prevResult: String?, _ node: Node, pod: TestNamespace, binaries: String, delay: UInt32)
        throws -> (killed: Bool, stdout: String)
    {
        var invocation = PluginInvocation(plugin: plugins[index].type, command: "ADD")
        invocation.containerID = containerID
        invocation.netns = pod.path
        invocation.path = binaries
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // env and `ip netns exec` exec in place: the pid ends up the plugin's.
        process.arguments = ["ip", "netns", "exec", node.ns.name, binaries + "/" + plugins[index].type]
        process.environment = invocation.environment.merging(["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]) { $1 }
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        input.fileHandleForWriting.write(Data(config(index, prevResult: prevResult).utf8))
        try input.fileHandleForWriting.close()
        usleep(delay)
        let killed = process.isRunning && kill(process.processIdentifier, SIGKILL) == 0
        let stdout = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let wasKilled = killed && process.terminationReason == .uncaughtSignal
        return (wasKilled, stdout)
    }

    private func run(
        _ node: Node, _ command: String, _ config: String, pod: TestNamespace?, _ binaries: String,
        _ environment: [String: String]
    ) throws -> CommandResult {
        let type = (try? JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any])?["type"] as? String
        return try node.run(
            type ?? "", command, config: config, id: containerID, pod: pod, bin: binaries, environment: environment)
    }
}

/// What a node holds that a plugin could leave behind: links, addresses, routes, qdiscs, the
/// nftables ruleset and every file under the node's scratch dir.
struct NodeState: Equatable {
    var links: [String]
    var addresses: [String]
    var routes: [String]
    var qdiscs: [String]
    var ruleset: String
    var files: [String]

    init(_ node: Node) throws {
        links = try node.links().sorted()
        addresses = try node.ns.ipJSON(["addr", "show"]).flatMap { link -> [String] in
            let name = link["ifname"] as? String ?? "?"
            return (link["addr_info"] as? [[String: Any]] ?? []).compactMap {
                guard let local = $0["local"] as? String, $0["scope"] as? String != "link" else { return nil }
                return "\(name) \(local)"
            }
        }.sorted()
        routes = try ["-4", "-6"].flatMap { family in
            // IPv6 link-local routes come and go with a link's carrier, whoever made the link.
            try node.ns.ipJSON([family, "route", "show", "table", "all"]).map {
                "\($0["dst"] ?? "") \($0["gateway"] ?? "") \($0["dev"] ?? "") \($0["table"] ?? "main")"
            }.filter { !$0.hasPrefix("fe80:") }
        }.sorted()
        qdiscs = try Command.checked(["tc", "-n", node.ns.name, "qdisc", "show"])
            .split(separator: "\n").map { String($0) }.filter { !$0.contains("noqueue") }.sorted()
        ruleset = try node.nftRuleset()
        let root = node.dataDir
        files = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).filter {
            !$0.hasPrefix("last_reserved_ip") && !$0.contains("/last_reserved_ip")
        }.sorted()
    }

    /// What differs from `baseline`, for the test's message.
    func difference(from baseline: NodeState) -> String {
        var out: [String] = []
        func compare(_ what: String, _ a: [String], _ b: [String]) {
            let extra = Set(a).subtracting(b), missing = Set(b).subtracting(a)
            if !extra.isEmpty { out.append("\(what) left: \(extra.sorted())") }
            if !missing.isEmpty { out.append("\(what) gone: \(missing.sorted())") }
        }
        compare("links", links, baseline.links)
        compare("addresses", addresses, baseline.addresses)
        compare("routes", routes, baseline.routes)
        compare("qdiscs", qdiscs, baseline.qdiscs)
        compare("files", files, baseline.files)
        if ruleset != baseline.ruleset {
            compare(
                "nft lines", ruleset.split(separator: "\n").map(String.init),
                baseline.ruleset.split(separator: "\n").map(String.init))
        }
        return out.joined(separator: "; ")
    }
}

extension TestEnvironment {
    /// Links named after every plugin to the debug build's multi-call binary, whatever
    /// `SWIFT_CNI_BIN_DIR` says: only a debug build honours `SWIFT_CNI_FAULT`.
    static let debugPluginDirectory = debugLinks(".build/death-bin")
}
