import CNISkeleton

/// Which traffic may enter a bridge's containers from elsewhere (reference `ingressPolicy`).
enum IngressPolicy: String, Sendable {
    /// No isolation.
    case open
    /// Containers on other bridges with a policy cannot reach this bridge's containers.
    case sameBridge = "same-bridge"
    /// As `same-bridge`, and containers on this bridge cannot reach each other either.
    case isolated
}

/// The firewall plugin's keys. `backend` and `firewalldZone` are accepted for compatibility:
/// rules are always nftables.
struct FirewallConfig: Sendable {
    var adminChain = "CNI-ADMIN"
    var ingressPolicy = IngressPolicy.open

    init(_ request: CNIRequest) throws {
        let f = request.config.fields
        do {
            if let name = try f.string("iptablesAdminChainName"), !name.isEmpty { adminChain = name }
            if let policy = try f.string("ingressPolicy"), !policy.isEmpty {
                guard let parsed = IngressPolicy(rawValue: policy) else {
                    throw CNIError.invalidConfig("unknown ingress policy: \"\(policy)\"", details: "key: ingressPolicy")
                }
                ingressPolicy = parsed
            }
            _ = try f.string("backend")
            _ = try f.string("firewalldZone")
        } catch {
            throw CNIError.decodingConfig(error)
        }
        let reserved = [FirewallRules.forward, FirewallRules.filterChain, FirewallRules.stage1, FirewallRules.stage2]
        // nftables allows 255 bytes; our own chains would make a jump loop.
        guard adminChain.utf8.count < 256, !reserved.contains(adminChain) else {
            throw CNIError.invalidConfig(
                "invalid iptablesAdminChainName \"\(adminChain)\"", details: "key: iptablesAdminChainName")
        }
    }
}
