import CLibnftnl

/// The expressions of set lookups, as `nft` generates them: the key's fields loaded into
/// consecutive 32-bit registers from register 1 on, one `lookup`, then what uses its value.
enum NFTSetExpressions {
    static func add(_ statement: NFTStatement, family: NFTFamily, to rule: OpaquePointer) {
        switch statement {
        case .member(let selectors, let set):
            loadKey(selectors, family: family, rule)
            lookup(set, into: nil, rule)
        case .dnatMap(let selectors, let map, let v4):
            loadKey(selectors, family: family, rule)
            lookup(map, into: NFTExpressions.reg1, rule)
            // The value is the address, then the port in the register after it.
            let port = v4 ? UInt32(NFT_REG32_01.rawValue) : UInt32(NFT_REG_2.rawValue)
            let e = nftnl_expr_alloc("nat")!
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_NAT_TYPE), UInt32(NFT_NAT_DNAT.rawValue))
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_NAT_FAMILY), UInt32(v4 ? NFPROTO_IPV4 : NFPROTO_IPV6))
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_NAT_REG_ADDR_MIN), NFTExpressions.reg1)
            // As nft: no flags, the kernel sets NF_NAT_RANGE_PROTO_SPECIFIED for a port register.
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_NAT_REG_PROTO_MIN), port)
            nftnl_rule_add_expr(rule, e)
        case .verdictMap(let selectors, let map):
            loadKey(selectors, family: family, rule)
            lookup(map, into: UInt32(NFT_REG_VERDICT.rawValue), rule)
        default:
            break
        }
    }

    /// Loads each selector into the registers that follow the previous one's.
    private static func loadKey(_ selectors: [NFTStatement.Selector], family: NFTFamily, _ rule: OpaquePointer) {
        // In inet tables nft guards address loads with the protocol (meta nfproto).
        for case .address(_, let v4) in selectors.prefix(1) where family == .inet {
            NFTExpressions.meta(NFT_META_NFPROTO.rawValue, rule)
            NFTExpressions.compare(equal: true, [UInt8(v4 ? NFPROTO_IPV4 : NFPROTO_IPV6)], rule)
        }
        var word: UInt32 = 0
        for selector in selectors {
            let register = word == 0 ? NFTExpressions.reg1 : UInt32(NFT_REG32_00.rawValue) + word
            switch selector {
            case .address(let field, let v4):
                let offset: UInt32 = v4 ? (field == .source ? 12 : 16) : (field == .source ? 8 : 24)
                NFTExpressions.payload(offset: offset, length: v4 ? 4 : 16, rule, into: register)
                word += v4 ? 1 : 4
            case .protocolNumber:
                NFTExpressions.meta(NFT_META_L4PROTO.rawValue, rule, into: register)
                word += 1
            case .destinationPort:
                NFTExpressions.payload(
                    offset: 2, length: 2, rule, into: register,
                    base: UInt32(NFT_PAYLOAD_TRANSPORT_HEADER.rawValue))
                word += 1
            }
        }
    }

    private static func lookup(_ set: String, into register: UInt32?, _ rule: OpaquePointer) {
        let e = nftnl_expr_alloc("lookup")!
        nftnl_expr_set_u32(e, attr(NFTNL_EXPR_LOOKUP_SREG), NFTExpressions.reg1)
        if let register { nftnl_expr_set_u32(e, attr(NFTNL_EXPR_LOOKUP_DREG), register) }
        nftnl_expr_set_str(e, attr(NFTNL_EXPR_LOOKUP_SET), set)
        nftnl_rule_add_expr(rule, e)
    }
}
