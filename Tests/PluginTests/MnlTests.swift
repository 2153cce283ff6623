import CLibmnl
import Netlink
import Testing

/// Sources/CMnl stands in for libmnl under libnftnl: its encoding must equal the Netlink
/// module's writer, and its parser must walk what it wrote.
@Suite("CMnl: the libmnl subset behind libnftnl")
struct MnlTests {
    struct Kind: AttributeType {
        let rawValue: UInt16
        init(rawValue: UInt16) { self.rawValue = rawValue }
    }

    @Test("Attributes and nests are laid out exactly as the Netlink module's writer does")
    func encoding() {
        var buffer = [UInt8](repeating: 0, count: 256)
        let bytes = buffer.withUnsafeMutableBytes { raw -> [UInt8] in
            let nlh = mnl_nlmsg_put_header(raw.baseAddress)!
            mnl_attr_put_u32(nlh, 1, 0x0102_0304)
            mnl_attr_put_strz(nlh, 2, "veth")
            let nest = mnl_attr_nest_start(nlh, 3)!
            mnl_attr_put_u8(nlh, 4, 7)
            mnl_attr_put_u64(nlh, 5, 0x0102_0304_0506_0708)
            mnl_attr_nest_end(nlh, nest)
            return Array(raw[16..<Int(nlh.pointee.nlmsg_len)])
        }
        var w = AttributeWriter()
        w.u32(Kind(rawValue: 1), 0x0102_0304)
        w.string(Kind(rawValue: 2), "veth")
        w.nested(Kind(rawValue: 3), setNestedFlag: true) {
            $0.u8(Kind(rawValue: 4), 7)
            $0.u64(Kind(rawValue: 5), 0x0102_0304_0506_0708)
        }
        #expect(bytes == w.bytes)
    }

    @Test("Parsing walks every attribute and validation rejects short payloads")
    func parsing() {
        var buffer = [UInt8](repeating: 0, count: 256)
        buffer.withUnsafeMutableBytes { raw in
            let nlh = mnl_nlmsg_put_header(raw.baseAddress)!
            mnl_attr_put_u16(nlh, 1, 9)
            mnl_attr_put_u8(nlh, 2, 1)
            var seen: [UInt16] = []
            let ret = withUnsafeMutablePointer(to: &seen) { context in
                mnl_attr_parse(
                    nlh, 0,
                    { attr, data in
                        data!.assumingMemoryBound(to: [UInt16].self).pointee.append(mnl_attr_get_type(attr))
                        return MNL_CB_OK
                    }, context)
            }
            #expect(ret == MNL_CB_OK)
            #expect(seen == [1, 2])
            let first = mnl_nlmsg_get_payload(nlh)!.assumingMemoryBound(to: nlattr.self)
            #expect(mnl_attr_validate(first, MNL_TYPE_U16) == 0)
            #expect(mnl_attr_validate(first, MNL_TYPE_U32) == -1)
        }
    }
}
