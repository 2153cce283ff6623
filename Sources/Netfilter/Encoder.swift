import CLibnftnl

/// Builds nftables netlink messages with libnftnl, one `nlmsghdr` at a time.
struct NFTEncoder {
    let family: NFTFamily
    let table: String

    /// Runs `fill` on a fresh header in a scratch buffer and returns the finished message.
    func message(
        _ type: UInt32, flags: Int32, seq: UInt32, capacity: Int = 8192,
        _ fill: (UnsafeMutablePointer<nlmsghdr>) -> Void
    ) -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: capacity)
        return buffer.withUnsafeMutableBufferPointer { raw -> [UInt8] in
            let header = nftnl_nlmsg_build_hdr(
                raw.baseAddress, UInt16(type), UInt16(family.rawValue), UInt16(flags), seq)!
            fill(header)
            let length = Int(header.pointee.nlmsg_len)
            return UnsafeRawBufferPointer(start: raw.baseAddress, count: length).map { $0 }
        }
    }

    static func batch(begin: Bool, seq: UInt32) -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: 64)
        return buffer.withUnsafeMutableBufferPointer { raw -> [UInt8] in
            let header = begin ? nftnl_batch_begin(raw.baseAddress, seq)! : nftnl_batch_end(raw.baseAddress, seq)!
            return UnsafeRawBufferPointer(start: raw.baseAddress, count: Int(header.pointee.nlmsg_len)).map { $0 }
        }
    }

    static let ack = Int32(NLM_F_ACK)

    func encode(_ operation: NFTOperation, seq: UInt32) -> [UInt8] {
        switch operation {
        case .addTable(let t):
            let table = nftnl_table_alloc()!
            defer { nftnl_table_free(table) }
            nftnl_table_set_str(table, attr(NFTNL_TABLE_NAME), t.name)
            nftnl_table_set_u32(table, attr(NFTNL_TABLE_FAMILY), UInt32(family.rawValue))
            if let comment = t.comment {
                NFTEncoder.withComment(comment, type: UInt8(attr(NFTNL_UDATA_TABLE_COMMENT))) { data, length in
                    nftnl_table_set_data(table, attr(NFTNL_TABLE_USERDATA), data, length)
                }
            }
            return message(NFT_MSG_NEWTABLE.rawValue, flags: Int32(NLM_F_CREATE) | NFTEncoder.ack, seq: seq) {
                nftnl_table_nlmsg_build_payload($0, table)
            }
        case .addChain(let c):
            let chain = makeChain(c.name)
            defer { nftnl_chain_free(chain) }
            if let base = c.base {
                nftnl_chain_set_str(chain, attr(NFTNL_CHAIN_TYPE), base.type.rawValue)
                nftnl_chain_set_u32(chain, attr(NFTNL_CHAIN_HOOKNUM), base.hook.rawValue)
                nftnl_chain_set_s32(chain, attr(NFTNL_CHAIN_PRIO), base.priority.rawValue)
                if let policy = base.policy { nftnl_chain_set_u32(chain, attr(NFTNL_CHAIN_POLICY), policy.rawValue) }
            }
            if let comment = c.comment {
                NFTEncoder.withComment(comment, type: UInt8(attr(NFTNL_UDATA_CHAIN_COMMENT))) { data, length in
                    nftnl_chain_set_data(chain, attr(NFTNL_CHAIN_USERDATA), data, length)
                }
            }
            return message(NFT_MSG_NEWCHAIN.rawValue, flags: Int32(NLM_F_CREATE) | NFTEncoder.ack, seq: seq) {
                nftnl_chain_nlmsg_build_payload($0, chain)
            }
        case .flushChain(let name):
            let rule = makeRule(chain: name)
            defer { nftnl_rule_free(rule) }
            return message(NFT_MSG_DELRULE.rawValue, flags: NFTEncoder.ack, seq: seq) {
                nftnl_rule_nlmsg_build_payload($0, rule)
            }
        case .addRule(let r), .insertRule(let r):
            let rule = makeRule(chain: r.chain)
            defer { nftnl_rule_free(rule) }
            for statement in r.statements { NFTExpressions.add(statement, family: family, to: rule) }
            if let comment = r.comment {
                NFTEncoder.withComment(comment, type: UInt8(attr(NFTNL_UDATA_RULE_COMMENT))) { data, length in
                    nftnl_rule_set_data(rule, attr(NFTNL_RULE_USERDATA), data, length)
                }
            }
            // Without NLM_F_APPEND the kernel puts the rule first in its chain.
            var flags = Int32(NLM_F_CREATE) | NFTEncoder.ack
            if case .addRule = operation { flags |= Int32(NLM_F_APPEND) }
            return message(NFT_MSG_NEWRULE.rawValue, flags: flags, seq: seq) {
                nftnl_rule_nlmsg_build_payload($0, rule)
            }
        case .deleteRule(let chain, let handle):
            let rule = makeRule(chain: chain)
            defer { nftnl_rule_free(rule) }
            nftnl_rule_set_u64(rule, attr(NFTNL_RULE_HANDLE), handle)
            return message(NFT_MSG_DELRULE.rawValue, flags: NFTEncoder.ack, seq: seq) {
                nftnl_rule_nlmsg_build_payload($0, rule)
            }
        case .deleteChain(let name):
            let chain = makeChain(name)
            defer { nftnl_chain_free(chain) }
            return message(NFT_MSG_DELCHAIN.rawValue, flags: NFTEncoder.ack, seq: seq) {
                nftnl_chain_nlmsg_build_payload($0, chain)
            }
        case .addSet, .addElements, .deleteElements:
            return encodeSetOperation(operation, seq: seq)
        case .deleteTable:
            let table = nftnl_table_alloc()!
            defer { nftnl_table_free(table) }
            nftnl_table_set_str(table, attr(NFTNL_TABLE_NAME), self.table)
            return message(NFT_MSG_DELTABLE.rawValue, flags: NFTEncoder.ack, seq: seq) {
                nftnl_table_nlmsg_build_payload($0, table)
            }
        }
    }

    /// A GETTABLE request, answered with the table or `ENOENT`.
    func getTable(seq: UInt32) -> [UInt8] {
        let object = nftnl_table_alloc()!
        defer { nftnl_table_free(object) }
        nftnl_table_set_str(object, attr(NFTNL_TABLE_NAME), table)
        return message(NFT_MSG_GETTABLE.rawValue, flags: NFTEncoder.ack, seq: seq) {
            nftnl_table_nlmsg_build_payload($0, object)
        }
    }

    /// A GETCHAIN request for one chain, answered with it or `ENOENT`.
    func getChain(_ name: String, seq: UInt32) -> [UInt8] {
        let chain = makeChain(name)
        defer { nftnl_chain_free(chain) }
        return message(NFT_MSG_GETCHAIN.rawValue, flags: NFTEncoder.ack, seq: seq) {
            nftnl_chain_nlmsg_build_payload($0, chain)
        }
    }

    /// A GETRULE dump request for one chain (table wide when `chain` is nil).
    func listRules(chain: String?, seq: UInt32) -> [UInt8] {
        let rule = nftnl_rule_alloc()!
        defer { nftnl_rule_free(rule) }
        nftnl_rule_set_str(rule, attr(NFTNL_RULE_TABLE), table)
        if let chain { nftnl_rule_set_str(rule, attr(NFTNL_RULE_CHAIN), chain) }
        return message(NFT_MSG_GETRULE.rawValue, flags: Int32(NLM_F_DUMP), seq: seq) {
            nftnl_rule_nlmsg_build_payload($0, rule)
        }
    }

    private func makeChain(_ name: String) -> OpaquePointer {
        let chain = nftnl_chain_alloc()!
        nftnl_chain_set_str(chain, attr(NFTNL_CHAIN_TABLE), table)
        nftnl_chain_set_str(chain, attr(NFTNL_CHAIN_NAME), name)
        nftnl_chain_set_u32(chain, attr(NFTNL_CHAIN_FAMILY), UInt32(family.rawValue))
        return chain
    }

    private func makeRule(chain: String) -> OpaquePointer {
        let rule = nftnl_rule_alloc()!
        nftnl_rule_set_str(rule, attr(NFTNL_RULE_TABLE), table)
        nftnl_rule_set_str(rule, attr(NFTNL_RULE_CHAIN), chain)
        nftnl_rule_set_u32(rule, attr(NFTNL_RULE_FAMILY), UInt32(family.rawValue))
        return rule
    }

    /// Comments live in the object's userdata as a TLV, the way `nft` stores them.
    static func withComment(_ comment: String, type: UInt8, _ body: (UnsafeRawPointer, UInt32) -> Void) {
        let buffer = nftnl_udata_buf_alloc(UInt32(NFT_USERDATA_MAXLEN))!
        defer { nftnl_udata_buf_free(buffer) }
        _ = nftnl_udata_put_strz(buffer, type, comment)
        body(nftnl_udata_buf_data(buffer)!, nftnl_udata_buf_len(buffer))
    }
}

/// libnftnl attribute numbers, whether Swift imports their enum as a type or as plain integers.
@inline(__always) func attr<T: BinaryInteger>(_ value: T) -> UInt16 { UInt16(truncatingIfNeeded: value) }
@inline(__always) func attr<T: RawRepresentable>(_ value: T) -> UInt16 where T.RawValue: BinaryInteger {
    UInt16(truncatingIfNeeded: value.rawValue)
}
