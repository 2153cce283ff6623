import CLibnftnl

/// Set and element messages.
extension NFTEncoder {
    func encodeSetOperation(_ operation: NFTOperation, seq: UInt32) -> [UInt8] {
        switch operation {
        case .addSet(let definition):
            let set = makeSet(definition.name)
            defer { nftnl_set_free(set) }
            nftnl_set_set_u32(set, attr(NFTNL_SET_KEY_TYPE), NFTDataType.packed(definition.key))
            nftnl_set_set_u32(set, attr(NFTNL_SET_KEY_LEN), UInt32(definition.key.reduce(0) { $0 + $1.length }))
            // Hash sets take concatenated keys as they are (NFT_SET_CONCAT is for interval sets).
            var flags: UInt32 = 0
            if let data = definition.data {
                flags |= UInt32(NFT_SET_MAP.rawValue)
                // A verdict map's value type is the kernel's verdict type, whose length it knows.
                if data == [.verdict] {
                    nftnl_set_set_u32(set, attr(NFTNL_SET_DATA_TYPE), NFT_DATA_VERDICT.rawValue)
                } else {
                    nftnl_set_set_u32(set, attr(NFTNL_SET_DATA_TYPE), NFTDataType.packed(data))
                    nftnl_set_set_u32(set, attr(NFTNL_SET_DATA_LEN), UInt32(data.reduce(0) { $0 + $1.length }))
                }
            }
            nftnl_set_set_u32(set, attr(NFTNL_SET_FLAGS), flags)
            nftnl_set_set_u32(set, attr(NFTNL_SET_ID), seq)
            return message(NFT_MSG_NEWSET.rawValue, flags: Int32(NLM_F_CREATE) | NFTEncoder.ack, seq: seq) {
                nftnl_set_nlmsg_build_payload($0, set)
            }
        case .addElements(let name, let elements), .deleteElements(let name, let elements):
            let adding = { if case .addElements = operation { return true } else { return false } }()
            return elementMessage(
                adding ? NFT_MSG_NEWSETELEM.rawValue : NFT_MSG_DELSETELEM.rawValue,
                flags: (adding ? Int32(NLM_F_CREATE) : 0) | NFTEncoder.ack, set: name, elements, withValues: adding,
                seq: seq)
        default:
            return []
        }
    }

    /// A GETSETELEM for one element (answered with the element, or `ENOENT`), or a dump of
    /// the whole set when `key` is nil.
    func getElements(set: String, key: [UInt8]?, seq: UInt32) -> [UInt8] {
        guard let key else {
            return elementMessage(NFT_MSG_GETSETELEM.rawValue, flags: Int32(NLM_F_DUMP), set: set, [], seq: seq)
        }
        return elementMessage(
            NFT_MSG_GETSETELEM.rawValue, flags: NFTEncoder.ack, set: set,
            [NFTElement(rawKey: key, value: nil, comment: nil)], seq: seq)
    }

    private func elementMessage(
        _ type: UInt32, flags: Int32, set name: String, _ elements: [NFTElement], withValues: Bool = false,
        seq: UInt32
    ) -> [UInt8] {
        let set = makeSet(name)
        defer { nftnl_set_free(set) }
        for element in elements {
            // The set owns its elements from here and frees them with itself.
            let e = nftnl_set_elem_alloc()!
            element.key.withUnsafeBytes {
                _ = nftnl_set_elem_set(e, attr(NFTNL_SET_ELEM_KEY), $0.baseAddress, UInt32($0.count))
            }
            if withValues { setValue(element, e) }
            nftnl_set_elem_add(set, e)
        }
        // libnftnl writes without bounds: room for every attribute of every element, padded.
        let room = elements.reduce(1024) { total, element in
            let value: Int
            switch element.value {
            case .data(let bytes)?: value = bytes.count
            case .goto(let chain)?: value = chain.utf8.count + 16
            case nil: value = 0
            }
            return total + 96 + element.key.count + value + (element.comment?.utf8.count ?? 0)
        }
        return message(type, flags: flags, seq: seq, capacity: room) { nftnl_set_elems_nlmsg_build_payload($0, set) }
    }

    private func setValue(_ element: NFTElement, _ e: OpaquePointer) {
        switch element.value {
        case .data(let bytes)?:
            bytes.withUnsafeBytes {
                _ = nftnl_set_elem_set(e, attr(NFTNL_SET_ELEM_DATA), $0.baseAddress, UInt32($0.count))
            }
        case .goto(let chain)?:
            nftnl_set_elem_set_u32(e, attr(NFTNL_SET_ELEM_VERDICT), UInt32(bitPattern: NFT_GOTO.rawValue))
            nftnl_set_elem_set_str(e, attr(NFTNL_SET_ELEM_CHAIN), chain)
        case nil:
            break
        }
        if let comment = element.comment {
            NFTEncoder.withComment(comment, type: UInt8(attr(NFTNL_UDATA_SET_ELEM_COMMENT))) { data, length in
                _ = nftnl_set_elem_set(e, attr(NFTNL_SET_ELEM_USERDATA), data, length)
            }
        }
    }

    private func makeSet(_ name: String) -> OpaquePointer {
        let set = nftnl_set_alloc()!
        nftnl_set_set_str(set, attr(NFTNL_SET_TABLE), table)
        nftnl_set_set_str(set, attr(NFTNL_SET_NAME), name)
        nftnl_set_set_u32(set, attr(NFTNL_SET_FAMILY), UInt32(family.rawValue))
        return set
    }
}
