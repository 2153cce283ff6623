import CLibnftnl
import NetAddress
import Netlink

/// What a rule (`[ip saddr S] [ip daddr A] [tcp dport P] dnat to T:Q`, or `... jump C`)
/// matches and where it sends packets, read back from its expressions (ours, the reference's,
/// and iptables-nft's native matches); nil fields were not in the rule.
public struct NFTPortMatch: Sendable, Equatable {
    public var source: IPAddress?
    public var destination: IPAddress?
    /// The chain a `jump` or `goto` sends packets to.
    public var jumpTarget: String?
    public var protocolNumber: UInt8?
    public var port: UInt16?
    /// The address the rule DNATs to.
    public var target: IPAddress?

    /// Reads the value each `cmp` compares against the load before it, and the address an
    /// `immediate` puts in register 1 (the DNAT target) or the chain of its verdict. Nil when
    /// none of these is in the rule.
    init?(_ attributes: [Attribute]) {
        guard let list = attributes.first(where: { $0.type == 4 }), let elements = try? list.nested() else {
            return nil
        }
        var loaded: Load?
        for element in elements {
            guard let fields = try? element.nested() else { return nil }
            let name = fields.first { $0.type == 1 }.map {
                String(decoding: $0.payload.prefix { $0 != 0 }, as: UTF8.self)
            }
            let data = fields.first { $0.type == 2 }.flatMap { try? $0.nested() } ?? []
            switch name {
            case "payload": loaded = Load(payload: data)
            case "meta": loaded = Self.u32(data, 2) == NFT_META_L4PROTO.rawValue ? .protocolNumber : nil
            case "cmp":
                if let value = Self.value(data, 3), let load = loaded { record(load, value) }
                loaded = nil
            case "immediate":
                if Self.u32(data, 1) == UInt32(NFT_REG_1.rawValue), let value = Self.value(data, 2) {
                    target = IPAddress(bytes: value)
                }
                // NFTA_IMMEDIATE_DATA { NFTA_DATA_VERDICT { code, chain } }
                let verdict = data.first { $0.type == 2 }.flatMap { try? $0.nested() }?.first { $0.type == 2 }
                if let chain = verdict.flatMap({ try? $0.nested() })?.first(where: { $0.type == 2 }) {
                    jumpTarget = String(decoding: chain.payload.prefix { $0 != 0 }, as: UTF8.self)
                }
            default: loaded = nil
            }
        }
        guard port != nil || source != nil || destination != nil || jumpTarget != nil || target != nil else {
            return nil
        }
    }

    private enum Load {
        case source, destination, protocolNumber, port

        init?(payload data: [Attribute]) {
            let base = NFTPortMatch.u32(data, 2), offset = NFTPortMatch.u32(data, 3), length = NFTPortMatch.u32(data, 4)
            if base == UInt32(NFT_PAYLOAD_TRANSPORT_HEADER.rawValue) && offset == 2 && length == 2 {
                self = .port
            } else if base == UInt32(NFT_PAYLOAD_NETWORK_HEADER.rawValue)
                && ((offset == 16 && length == 4) || (offset == 24 && length == 16))
            {
                self = .destination
            } else if base == UInt32(NFT_PAYLOAD_NETWORK_HEADER.rawValue)
                && ((offset == 12 && length == 4) || (offset == 8 && length == 16))
            {
                self = .source
            } else {
                return nil
            }
        }
    }

    private mutating func record(_ load: Load, _ value: [UInt8]) {
        switch load {
        case .source: source = IPAddress(bytes: value)
        case .destination: destination = IPAddress(bytes: value)
        case .protocolNumber: protocolNumber = value.first
        case .port: port = value.count == 2 ? UInt16(value[0]) << 8 | UInt16(value[1]) : nil
        }
    }

    /// A big-endian u32 attribute.
    private static func u32(_ data: [Attribute], _ type: UInt16) -> UInt32? {
        guard let payload = data.first(where: { $0.type == type })?.payload, payload.count == 4 else { return nil }
        return payload.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// The bytes of an `nft_data` attribute's `NFTA_DATA_VALUE`.
    private static func value(_ data: [Attribute], _ type: UInt16) -> [UInt8]? {
        data.first { $0.type == type }.flatMap { try? $0.nested() }?.first { $0.type == 1 }.map { Array($0.payload) }
    }
}
