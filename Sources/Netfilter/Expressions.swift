import CLibnftnl
import NetAddress

/// Each statement as the expressions `nft` generates for it in an inet/ip/ip6 table.
enum NFTExpressions {
    static func add(_ statement: NFTStatement, family: NFTFamily, to rule: OpaquePointer) {
        switch statement {
        case .address(let field, let equal, let prefix):
            let address = prefix.address.bytes, length = prefix.boundedLength
            let v4 = prefix.address.isV4
            // In inet tables nft guards address matches with the protocol (meta nfproto).
            if family == .inet {
                meta(NFT_META_NFPROTO.rawValue, rule)
                compare(equal: true, [UInt8(v4 ? NFPROTO_IPV4 : NFPROTO_IPV6)], rule)
            }
            let offset: UInt32 = v4 ? (field == .source ? 12 : 16) : (field == .source ? 8 : 24)
            payload(offset: offset, length: UInt32(address.count), rule)
            if length < address.count * 8 {
                let mask = NFTExpressions.mask(bytes: address.count, prefix: length)
                bitwise(mask: mask, rule)
                compare(equal: equal, zip(address, mask).map { $0 & $1 }, rule)
            } else {
                compare(equal: equal, address, rule)
            }
        case .inputInterface(let name):
            meta(NFT_META_IIFNAME.rawValue, rule)
            compare(equal: true, interfaceName(name), rule)
        case .outputInterface(let name, let equal):
            meta(NFT_META_OIFNAME.rawValue, rule)
            compare(equal: equal, interfaceName(name), rule)
        case .establishedOrRelated:
            let e = nftnl_expr_alloc("ct")!
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_CT_KEY), UInt32(NFT_CT_STATE.rawValue))
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_CT_DREG), reg1)
            nftnl_rule_add_expr(rule, e)
            // The state is a host-order u32 bit set: ESTABLISHED (2) | RELATED (4).
            bitwise(mask: withUnsafeBytes(of: UInt32(6)) { Array($0) }, rule)
            compare(equal: false, [0, 0, 0, 0], rule)
        case .etherSource(let equal, let mac):
            let e = nftnl_expr_alloc("payload")!
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_PAYLOAD_DREG), reg1)
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_PAYLOAD_BASE), UInt32(NFT_PAYLOAD_LL_HEADER.rawValue))
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_PAYLOAD_OFFSET), 6)
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_PAYLOAD_LEN), 6)
            nftnl_rule_add_expr(rule, e)
            compare(equal: equal, mac.bytes, rule)
        case .destinationIsLocal:
            let e = nftnl_expr_alloc("fib")!
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_FIB_FLAGS), UInt32(NFTA_FIB_F_DADDR.rawValue))
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_FIB_RESULT), UInt32(NFT_FIB_RESULT_ADDRTYPE.rawValue))
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_FIB_DREG), reg1)
            nftnl_rule_add_expr(rule, e)
            // RTN_LOCAL, compared as the host-order u32 the fib expression stores.
            compare(equal: true, withUnsafeBytes(of: UInt32(2)) { Array($0) }, rule)
        case .destinationPort(let proto, let port):
            meta(NFT_META_L4PROTO.rawValue, rule)
            compare(equal: true, [proto], rule)
            let e = nftnl_expr_alloc("payload")!
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_PAYLOAD_DREG), reg1)
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_PAYLOAD_BASE), UInt32(NFT_PAYLOAD_TRANSPORT_HEADER.rawValue))
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_PAYLOAD_OFFSET), 2)
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_PAYLOAD_LEN), 2)
            nftnl_rule_add_expr(rule, e)
            compare(equal: true, [UInt8(port >> 8), UInt8(port & 0xff)], rule)
        case .dnat(let address, let port):
            load(address.bytes, into: reg1, rule)
            load([UInt8(port >> 8), UInt8(port & 0xff)], into: UInt32(NFT_REG_2.rawValue), rule)
            let e = nftnl_expr_alloc("nat")!
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_NAT_TYPE), UInt32(NFT_NAT_DNAT.rawValue))
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_NAT_FAMILY), UInt32(address.isV4 ? NFPROTO_IPV4 : NFPROTO_IPV6))
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_NAT_REG_ADDR_MIN), reg1)
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_NAT_REG_PROTO_MIN), UInt32(NFT_REG_2.rawValue))
            nftnl_expr_set_u32(e, attr(NFTNL_EXPR_NAT_FLAGS), 2)  // NF_NAT_RANGE_PROTO_SPECIFIED
            nftnl_rule_add_expr(rule, e)
        case .masquerade:
            let e = nftnl_expr_alloc("masq")!
            nftnl_rule_add_expr(rule, e)
        case .member, .dnatMap, .verdictMap: NFTSetExpressions.add(statement, family: family, to: rule)
        case .return: verdict(NFT_RETURN.rawValue, chain: nil, rule)
        case .goto(let chain): verdict(NFT_GOTO.rawValue, chain: chain, rule)
        case .jump(let chain): verdict(NFT_JUMP.rawValue, chain: chain, rule)
        case .accept: verdict(Int32(NF_ACCEPT), chain: nil, rule)
        case .drop: verdict(Int32(NF_DROP), chain: nil, rule)
        }
    }

    static func mask(bytes: Int, prefix: Int) -> [UInt8] {
        (0..<bytes).map { i in
            let bits = max(0, min(8, prefix - i * 8))
            return bits == 0 ? 0 : UInt8(truncatingIfNeeded: 0xff << (8 - bits))
        }
    }

    static let reg1 = UInt32(NFT_REG_1.rawValue)

    /// Interface names compare as IFNAMSIZ (16) bytes, NUL-padded, as nft emits them.
    private static func interfaceName(_ name: String) -> [UInt8] {
        let bytes = Array(name.utf8.prefix(15))
        return bytes + [UInt8](repeating: 0, count: 16 - bytes.count)
    }

    static func meta(_ key: UInt32, _ rule: OpaquePointer, into register: UInt32 = reg1) {
        let e = nftnl_expr_alloc("meta")!
        nftnl_expr_set_u32(e, attr(NFTNL_EXPR_META_KEY), key)
        nftnl_expr_set_u32(e, attr(NFTNL_EXPR_META_DREG), register)
        nftnl_rule_add_expr(rule, e)
    }

    static func payload(
        offset: UInt32, length: UInt32, _ rule: OpaquePointer, into register: UInt32 = reg1,
        base: UInt32 = UInt32(NFT_PAYLOAD_NETWORK_HEADER.rawValue)
    ) {
        let e = nftnl_expr_alloc("payload")!
        nftnl_expr_set_u32(e, attr(NFTNL_EXPR_PAYLOAD_DREG), register)
        nftnl_expr_set_u32(e, attr(NFTNL_EXPR_PAYLOAD_BASE), base)
        nftnl_expr_set_u32(e, attr(NFTNL_EXPR_PAYLOAD_OFFSET), offset)
        nftnl_expr_set_u32(e, attr(NFTNL_EXPR_PAYLOAD_LEN), length)
        nftnl_rule_add_expr(rule, e)
    }

    private static func bitwise(mask: [UInt8], _ rule: OpaquePointer) {
        let e = nftnl_expr_alloc("bitwise")!
        nftnl_expr_set_u32(e, attr(NFTNL_EXPR_BITWISE_SREG), reg1)
        nftnl_expr_set_u32(e, attr(NFTNL_EXPR_BITWISE_DREG), reg1)
        nftnl_expr_set_u32(e, attr(NFTNL_EXPR_BITWISE_LEN), UInt32(mask.count))
        mask.withUnsafeBytes {
            _ = nftnl_expr_set(e, attr(NFTNL_EXPR_BITWISE_MASK), $0.baseAddress, UInt32(mask.count))
        }
        let zero = [UInt8](repeating: 0, count: mask.count)
        zero.withUnsafeBytes { _ = nftnl_expr_set(e, attr(NFTNL_EXPR_BITWISE_XOR), $0.baseAddress, UInt32(mask.count)) }
        nftnl_rule_add_expr(rule, e)
    }

    static func compare(equal: Bool, _ data: [UInt8], _ rule: OpaquePointer) {
        let e = nftnl_expr_alloc("cmp")!
        nftnl_expr_set_u32(e, attr(NFTNL_EXPR_CMP_SREG), reg1)
        nftnl_expr_set_u32(e, attr(NFTNL_EXPR_CMP_OP), equal ? NFT_CMP_EQ.rawValue : NFT_CMP_NEQ.rawValue)
        data.withUnsafeBytes { _ = nftnl_expr_set(e, attr(NFTNL_EXPR_CMP_DATA), $0.baseAddress, UInt32(data.count)) }
        nftnl_rule_add_expr(rule, e)
    }

    private static func load(_ data: [UInt8], into register: UInt32, _ rule: OpaquePointer) {
        let e = nftnl_expr_alloc("immediate")!
        nftnl_expr_set_u32(e, attr(NFTNL_EXPR_IMM_DREG), register)
        data.withUnsafeBytes { _ = nftnl_expr_set(e, attr(NFTNL_EXPR_IMM_DATA), $0.baseAddress, UInt32(data.count)) }
        nftnl_rule_add_expr(rule, e)
    }

    static func verdict(_ code: Int32, chain: String?, _ rule: OpaquePointer) {
        let e = nftnl_expr_alloc("immediate")!
        nftnl_expr_set_u32(e, attr(NFTNL_EXPR_IMM_DREG), UInt32(NFT_REG_VERDICT.rawValue))
        nftnl_expr_set_u32(e, attr(NFTNL_EXPR_IMM_VERDICT), UInt32(bitPattern: code))
        if let chain { nftnl_expr_set_str(e, attr(NFTNL_EXPR_IMM_CHAIN), chain) }
        nftnl_rule_add_expr(rule, e)
    }
}
