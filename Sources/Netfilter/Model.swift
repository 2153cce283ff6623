import NetAddress

/// nftables objects as the plugins use them, renderable as `nft` text for readable tests
/// (the format of knftables' fake `Dump()`, which the reference's own tests compare).
public enum NFTFamily: UInt8, Sendable {
    case ip = 2
    case inet = 1
    case bridge = 7
    case ip6 = 10

    var text: String {
        switch self {
        case .ip: return "ip"
        case .inet: return "inet"
        case .bridge: return "bridge"
        case .ip6: return "ip6"
        }
    }
}

extension NFTFamily: CustomStringConvertible {
    /// The family as `nft` names it.
    public var description: String { text }
}

/// A table.
public struct NFTTable: Sendable, Equatable {
    public var family: NFTFamily
    public var name: String
    public var comment: String?

    public init(family: NFTFamily, name: String, comment: String? = nil) {
        self.family = family
        self.name = name
        self.comment = comment
    }
}

/// A base chain's type.
public enum NFTChainType: String, Sendable {
    case filter, nat, route
}

/// The netfilter hook a base chain is attached to (`NF_INET_*`, which the bridge family
/// numbers the same way).
public enum NFTHook: UInt32, Sendable {
    case prerouting = 0, input = 1, forward = 2, output = 3, postrouting = 4

    var name: String {
        switch self {
        case .prerouting: return "prerouting"
        case .input: return "input"
        case .forward: return "forward"
        case .output: return "output"
        case .postrouting: return "postrouting"
        }
    }
}

/// A base chain's priority; lower runs first. The named ones are nft's.
public struct NFTPriority: RawRepresentable, Sendable, Equatable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// `raw` in the ip families; in the bridge family, before `filter` (-200) and everything else.
    public static let raw = NFTPriority(rawValue: -300)
    public static let dstnat = NFTPriority(rawValue: -100)
    public static let filter = NFTPriority(rawValue: 0)
    public static let srcnat = NFTPriority(rawValue: 100)

    public var description: String { "\(rawValue)" }
}

/// A base chain's verdict for packets no rule decided (`NF_DROP` 0, `NF_ACCEPT` 1).
public enum NFTPolicy: UInt32, Sendable {
    case drop = 0, accept = 1
}

/// A chain; base chains have a type, hook and priority.
public struct NFTChain: Sendable, Equatable {
    public struct Base: Sendable, Equatable {
        public var type: NFTChainType
        public var hook: NFTHook
        public var priority: NFTPriority
        /// nil leaves the kernel default (accept).
        public var policy: NFTPolicy?

        public init(type: NFTChainType, hook: NFTHook, priority: NFTPriority, policy: NFTPolicy? = nil) {
            self.type = type
            self.hook = hook
            self.priority = priority
            self.policy = policy
        }
    }

    public var name: String
    public var comment: String?
    public var base: Base?

    public init(name: String, comment: String? = nil, base: Base? = nil) {
        self.name = name
        self.comment = comment
        self.base = base
    }
}

/// One statement of a rule.
public enum NFTStatement: Sendable, Equatable {
    public enum Field: Sendable { case source, destination }

    /// What a set lookup reads from the packet: one field of the key each.
    public enum Selector: Sendable, Equatable {
        /// `ip saddr` (`v4`) or `ip6 daddr`, and so on.
        case address(Field, v4: Bool)
        /// `meta l4proto`.
        case protocolNumber
        /// `th dport`: the destination port of TCP, UDP and SCTP alike.
        case destinationPort
    }

    /// `ip saddr == 10.0.0.5`, `ip daddr != 10.0.0.0/24`, `ip6 daddr == ff00::/8`: the
    /// address under the prefix's mask (a full-length prefix matches one address).
    case address(Field, equal: Bool, IPPrefix)
    /// `meta iifname == "name"`.
    case inputInterface(String)
    /// `meta oifname == "name"` or, with `equal` false, `!=`.
    case outputInterface(String, equal: Bool)
    /// `ct state established,related`: replies and related flows of a tracked connection.
    case establishedOrRelated
    /// `ether saddr == aa:bb:cc:dd:ee:ff`.
    case etherSource(equal: Bool, MACAddress)
    /// `fib daddr type local`: the destination is an address of this host.
    case destinationIsLocal
    /// `tcp dport 8080` (protocol number: 6 tcp, 17 udp, 132 sctp).
    case destinationPort(protocolNumber: UInt8, port: UInt16)
    /// `dnat to 10.0.0.2:80` / `dnat to [fd00::2]:80`.
    case dnat(address: IPAddress, port: UInt16)
    /// `ip saddr . ip daddr @set`: the packet's key is in the set.
    case member([Selector], set: String)
    /// `dnat ip to meta l4proto . th dport map @map`: DNAT to the address and port the key maps to.
    case dnatMap([Selector], map: String, v4: Bool)
    /// `ip saddr vmap @map`: the verdict the key maps to.
    case verdictMap([Selector], map: String)
    case masquerade
    case `return`
    case goto(String)
    case jump(String)
    case accept
    case drop
}

/// A rule with its comment; `handle` is set on rules read back from the kernel, and so is
/// `inputInterface` when the rule matches `meta iifname`.
public struct NFTRule: Sendable, Equatable {
    public var chain: String
    public var statements: [NFTStatement]
    public var comment: String?
    public var handle: UInt64?
    public var inputInterface: String?
    /// What a DNAT rule matches and where it sends packets (decoded with the interface).
    public var portMatch: NFTPortMatch?

    public init(chain: String, statements: [NFTStatement], comment: String? = nil, handle: UInt64? = nil) {
        self.chain = chain
        self.statements = statements
        self.comment = comment
        self.handle = handle
    }
}

/// One change inside a transaction.
public enum NFTOperation: Sendable, Equatable {
    case addTable(NFTTable)
    case addChain(NFTChain)
    case flushChain(String)
    case addRule(NFTRule)
    /// Adds the rule at the head of its chain.
    case insertRule(NFTRule)
    case deleteRule(chain: String, handle: UInt64)
    case deleteChain(String)
    case deleteTable
    /// Creates the set or map; an identical existing one is left as it is.
    case addSet(NFTSet)
    /// Adds elements; one already there with the same value stays (with its own comment), one
    /// with another value fails the batch with `EBUSY`.
    case addElements(set: String, [NFTElement])
    /// Deletes elements by key; a missing one fails the batch with `ENOENT`.
    case deleteElements(set: String, [NFTElement])

    /// The operation as messages of a bounded size: element lists in slices.
    var chunks: [NFTOperation] {
        let slice = 64
        switch self {
        case .addElements(let set, let elements) where elements.count > slice:
            return stride(from: 0, to: elements.count, by: slice).map {
                .addElements(set: set, Array(elements[$0..<min($0 + slice, elements.count)]))
            }
        case .deleteElements(let set, let elements) where elements.count > slice:
            return stride(from: 0, to: elements.count, by: slice).map {
                .deleteElements(set: set, Array(elements[$0..<min($0 + slice, elements.count)]))
            }
        default:
            return [self]
        }
    }

    /// Whether the kernel frees something when this commits.
    var deletes: Bool {
        switch self {
        case .flushChain, .deleteRule, .deleteChain, .deleteTable, .deleteElements: return true
        case .addTable, .addChain, .addRule, .insertRule, .addSet, .addElements: return false
        }
    }
}

/// Everything one plugin call changes in one table, sent as one atomic batch.
public struct NFTTransaction: Sendable, Equatable {
    public var family: NFTFamily
    public var table: String
    public var operations: [NFTOperation] = []

    public init(family: NFTFamily, table: String) {
        self.family = family
        self.table = table
    }

    public mutating func add(_ operation: NFTOperation) { operations.append(operation) }

    /// The transaction as `nft` commands, one per line.
    public var text: String {
        let prefix = "\(family.text) \(table)"
        return operations.map { op -> String in
            switch op {
            case .addTable(let t):
                return "add table \(prefix)" + (t.comment.map { " { comment \(quote($0)) ; }" } ?? "")
            case .addChain(let c):
                var parts: [String] = []
                if let base = c.base {
                    parts.append("type \(base.type.rawValue) hook \(base.hook.name) priority \(base.priority) ;")
                    if let policy = base.policy { parts.append("policy \(policy == .accept ? "accept" : "drop") ;") }
                }
                if let comment = c.comment { parts.append("comment \(quote(comment)) ;") }
                return "add chain \(prefix) \(c.name)"
                    + (parts.isEmpty ? "" : " { " + parts.joined(separator: " ") + " }")
            case .flushChain(let chain):
                return "flush chain \(prefix) \(chain)"
            case .addRule(let r), .insertRule(let r):
                let verb = { if case .insertRule = op { return "insert" } else { return "add" } }()
                return "\(verb) rule \(prefix) \(r.chain) \(NFTTransaction.render(r.statements))"
                    + (r.comment.map { " comment \(quote($0))" } ?? "")
            case .deleteRule(let chain, let handle):
                return "delete rule \(prefix) \(chain) handle \(handle)"
            case .deleteChain(let chain):
                return "delete chain \(prefix) \(chain)"
            case .deleteTable:
                return "delete table \(prefix)"
            case .addSet(let set):
                let types = { (t: [NFTDataType]) in t.map(\.name).joined(separator: " . ") }
                let value = set.data.map { " : " + types($0) } ?? ""
                return
                    "add \(set.data == nil ? "set" : "map") \(prefix) \(set.name) { type \(types(set.key))\(value) ; }"
            case .addElements(let set, let elements), .deleteElements(let set, let elements):
                let verb = { if case .addElements = op { return "add" } else { return "delete" } }()
                return "\(verb) element \(prefix) \(set) { " + elements.map(\.text).joined(separator: ", ") + " }"
            }
        }.joined(separator: "\n")
    }

    static func render(_ statements: [NFTStatement]) -> String {
        statements.map { statement -> String in
            switch statement {
            case .address(let field, let equal, let prefix):
                let family = prefix.address.isV4 ? "ip" : "ip6"
                let length = prefix.boundedLength
                let text = "\(prefix.address)" + (length == prefix.address.bitWidth ? "" : "/\(length)")
                return "\(family) \(field == .source ? "saddr" : "daddr") \(equal ? "==" : "!=") \(text)"
            case .inputInterface(let name): return "meta iifname == \(quote(name))"
            case .outputInterface(let name, let equal): return "meta oifname \(equal ? "==" : "!=") \(quote(name))"
            case .establishedOrRelated: return "ct state established,related"
            case .etherSource(let equal, let mac):
                return "ether saddr \(equal ? "==" : "!=") \(mac)"
            case .destinationIsLocal: return "fib daddr type local"
            case .destinationPort(let proto, let port):
                let name = [6: "tcp", 17: "udp", 132: "sctp"][Int(proto)] ?? "meta l4proto \(proto) th"
                return "\(name) dport \(port)"
            case .dnat(let address, let port):
                return "dnat to " + (address.isV4 ? "\(address):\(port)" : "[\(address)]:\(port)")
            case .member(let selectors, let set): return "\(render(selectors)) @\(set)"
            case .dnatMap(let selectors, let map, let v4):
                return "dnat \(v4 ? "ip" : "ip6") to \(render(selectors)) map @\(map)"
            case .verdictMap(let selectors, let map): return "\(render(selectors)) vmap @\(map)"
            case .masquerade: return "masquerade"
            case .return: return "return"
            case .goto(let chain): return "goto \(chain)"
            case .jump(let chain): return "jump \(chain)"
            case .accept: return "accept"
            case .drop: return "drop"
            }
        }.joined(separator: " ")
    }

    static func render(_ selectors: [NFTStatement.Selector]) -> String {
        selectors.map { selector -> String in
            switch selector {
            case .address(let field, let v4): return "\(v4 ? "ip" : "ip6") \(field == .source ? "saddr" : "daddr")"
            case .protocolNumber: return "meta l4proto"
            case .destinationPort: return "th dport"
            }
        }.joined(separator: " . ")
    }
}

extension NFTDataType {
    var name: String {
        switch self {
        case .verdict: return "verdict"
        case .ipv4Address: return "ipv4_addr"
        case .ipv6Address: return "ipv6_addr"
        case .inetProtocol: return "inet_proto"
        case .inetService: return "inet_service"
        }
    }
}

private func quote(_ s: String) -> String { "\"" + s + "\"" }
