import CNISkeleton
import Netfilter
import Netlink
import PluginSupport

/// The `firewall` plugin: lets the container's addresses through the forward hook, with an
/// operator-owned admin chain evaluated first and optional bridge isolation, in nftables
/// (the reference writes the same chains with iptables or firewalld). Chained: it passes
/// prevResult through.
public struct FirewallPlugin: CNIPlugin {
    /// The plugin instance the executables run.
    public static let plugin = FirewallPlugin()

    public let type = "firewall"
    /// The reference starts at 0.4.0; 0.3.x is served too, since runtimes still run 0.3.1
    /// chains with firewall in them, and refusing their DEL leaks the whole attachment. CHECK
    /// stays 0.4.0 and later, as the spec has it.
    public let supportedVersions = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
    /// The kernel it talks to; tests pass a fake.
    public let kernel: KernelContext

    public init(kernel: KernelContext = .live) { self.kernel = kernel }

    private static func tag(_ request: CNIRequest) -> AttachmentTag {
        AttachmentTag(network: request.config.name, ifname: request.ifname, containerID: request.containerID)
    }

    private static func previous(_ request: CNIRequest) throws -> CNIResult {
        guard var result = try request.config.prevResult() else {
            throw CNIError(.invalidNetworkConfig, "missing prevResult from earlier plugin")
        }
        result.cniVersion = request.config.cniVersion
        return result
    }

    /// The bridge an ingress policy applies to: the first interface of prevResult.
    private static func bridge(_ conf: FirewallConfig, _ result: CNIResult) throws -> String? {
        guard conf.ingressPolicy != .open else { return nil }
        guard let first = result.interfaces.first, !first.name.isEmpty else {
            throw CNIError(
                .invalidNetworkConfig,
                "interface needs to be set for ingress policy \"\(conf.ingressPolicy.rawValue)\", make sure to chain \"firewall\" plugin with \"bridge\""
            )
        }
        return first.name
    }

    public func add(_ request: CNIRequest) throws -> CNIResult {
        let conf = try FirewallConfig(request)
        let result = try Self.previous(request)
        let bridge = try Self.bridge(conf, result)
        let addresses = result.ips.map(\.address.address)
        // Nothing to let through and nothing to isolate: no netfilter work at all.
        guard !addresses.isEmpty || bridge != nil else { return result }
        do {
            let client = try kernel.netfilter()
            try NetfilterLock.holding(kernel) {
                try client.run {
                    try FirewallRules.setup(
                        conf, addresses: addresses, bridge: bridge, tag: Self.tag(request),
                        current: FirewallRules.Current(client), client: client)
                }
            }
        } catch {
            throw CNIError(
                .internalError, "failed to set up firewall rules in nftables table \(FirewallRules.table): \(error)")
        }
        return result
    }

    /// Removes this attachment's addresses and rules. Needs no netns; without prevResult its
    /// addresses are found by listing the sets. The chains, the admin jump and the bridge
    /// isolation rules stay for other containers.
    public func del(_ request: CNIRequest) throws {
        let prefix = Self.tag(request).prefix
        let own = { (comment: String) in comment.hasPrefix(prefix) }
        let addresses = (try? request.config.prevResult())?.ips.map(\.address.address)
        do {
            try remove(addresses: addresses, matching: own)
        } catch {
            throw CNIError(
                .internalError, "failed to remove firewall rules from nftables table \(FirewallRules.table): \(error)")
        }
    }

    public func check(_ request: CNIRequest) throws {
        let conf = try FirewallConfig(request)
        let result = try Self.previous(request)
        let bridge = try Self.bridge(conf, result)
        let client = try kernel.netfilter()
        let forward = try client.rules(family: .inet, table: FirewallRules.table, chain: FirewallRules.forward)
        let current = try FirewallRules.Current(client)
        var expected: [NFTRule] = []
        if !result.ips.isEmpty || bridge != nil {
            expected.append(
                NFTRule(chain: FirewallRules.forward, statements: [], comment: FirewallRules.forwardComment))
            expected.append(
                NFTRule(
                    chain: FirewallRules.filterChain, statements: [],
                    comment: FirewallRules.adminComment(conf.adminChain)))
        }
        if let bridge { expected += FirewallRules.isolationRules(conf.ingressPolicy, bridge: bridge) }
        let present = Set(
            (forward + current.filter + current.stage1 + current.stage2).map { "\($0.chain)/\($0.comment ?? "")" })
        for rule in expected where !present.contains("\(rule.chain)/\(rule.comment ?? "")") {
            throw CNIError(.internalError, "expected rule \"\(rule.comment ?? "")\" in chain \(rule.chain) not found")
        }
        let prefix = Self.tag(request).prefix
        let addresses = result.ips.map(\.address.address)
        let held = try FirewallRules.addresses.hold(addresses, matching: { $0.hasPrefix(prefix) }, client: client)
        let own = current.filter.filter { $0.comment?.hasPrefix(prefix) == true }.count
        if !held && own < 2 * result.ips.count {
            throw CNIError(
                .internalError,
                "expected rules for \(result.ips.count) address(es) in chain \(FirewallRules.filterChain), found \(own)"
            )
        }
    }

    /// Removes the address rules of this network's attachments that are not valid any
    /// more, and the isolation rules of bridges that no longer exist (the reference keeps
    /// both forever).
    public func gc(_ request: CNIRequest) throws {
        let keep = try request.config.validAttachments()
        let network = request.config.name
        do {
            let client = try kernel.netfilter()
            try remove(addresses: nil, matching: AttachmentTag.staleMatcher(network: network, keep: keep))
            let route = try kernel.hostRoute()
            let bridges = Set(try route.links().map(\.name))
            try client.deleteRules(
                family: .inet, table: FirewallRules.table, chains: [FirewallRules.stage1, FirewallRules.stage2]
            ) { rule in
                guard let name = rule.comment.flatMap(FirewallRules.bridge(inComment:)) else { return false }
                return !bridges.contains(name)
            }
        } catch {
            throw CNIError(
                .internalError, "firewall garbage collection in nftables table \(FirewallRules.table) failed: \(error)")
        }
    }

    /// Deletes, in one batch, the elements (looked up by `addresses`, or listed) and the
    /// rules of the layout before the sets whose comment `matching` accepts.
    private func remove(addresses: [IPAddress]?, matching: (String) -> Bool) throws {
        let client = try kernel.netfilter()
        guard try client.hasTable(family: .inet, table: FirewallRules.table) else { return }
        try NetfilterLock.holding(kernel) {
            try client.run {
                var tx = NFTTransaction(family: .inet, table: FirewallRules.table)
                try FirewallRules.addresses.release(addresses: addresses, matching: matching, client: client, into: &tx)
                let rules = try client.rules(
                    family: .inet, table: FirewallRules.table, chain: FirewallRules.filterChain)
                for rule in rules where rule.comment.map(matching) ?? false { FirewallRules.delete(rule, &tx) }
                return tx
            }
        }
    }

    /// Ready when nftables answers.
    public func status(_ request: CNIRequest) throws {
        try NetfilterStatus.require(kernel)
    }
}
