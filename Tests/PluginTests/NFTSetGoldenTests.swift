import CLibnftnl
import Netlink
import Testing

@testable import Netfilter

/// Set lookups, against the expressions `nft --debug=netlink` (nftables 1.0.6) printed for the
/// same rules on this kernel: our rule is parsed back and printed by libnftnl the same way.
@Suite("nftables set lookups: the expressions nft generates")
struct NFTSetGoldenTests {
    func expressions(_ statements: [NFTStatement], family: NFTFamily) throws -> [String] {
        let bytes = NFTEncoder(family: family, table: "t").encode(
            .addRule(NFTRule(chain: "c", statements: statements)), seq: 1)
        let rule = try #require(nftnl_rule_alloc())
        defer { nftnl_rule_free(rule) }
        let parsed = bytes.withUnsafeBytes { raw in
            nftnl_rule_nlmsg_parse(raw.baseAddress?.assumingMemoryBound(to: nlmsghdr.self), rule)
        }
        #expect(parsed >= 0)
        var text = [CChar](repeating: 0, count: 4096)
        _ = nftnl_rule_snprintf(&text, text.count, rule, UInt32(NFTNL_OUTPUT_DEFAULT.rawValue), 0)
        let printed = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return printed.split(separator: "\n").dropFirst().map { $0.trimmingCharacters() }
    }

    @Test("dnat ip to ip daddr . meta l4proto . th dport map @m")
    func dnatHostIP() throws {
        let key: [NFTStatement.Selector] = [.address(.destination, v4: true), .protocolNumber, .destinationPort]
        #expect(
            try expressions([.dnatMap(key, map: "m", v4: true)], family: .ip) == [
                "[ payload load 4b @ network header + 16 => reg 1 ]",
                "[ meta load l4proto => reg 9 ]",
                "[ payload load 2b @ transport header + 2 => reg 10 ]",
                "[ lookup reg 1 set m dreg 1 ]",
                "[ nat dnat ip addr_min reg 1 proto_min reg 9 ]",
            ])
    }

    @Test("dnat ip6 to meta l4proto . th dport map @m")
    func dnatV6() throws {
        #expect(
            try expressions([.dnatMap([.protocolNumber, .destinationPort], map: "m", v4: false)], family: .ip6) == [
                "[ meta load l4proto => reg 1 ]",
                "[ payload load 2b @ transport header + 2 => reg 9 ]",
                "[ lookup reg 1 set m dreg 1 ]",
                "[ nat dnat ip6 addr_min reg 1 proto_min reg 2 ]",
            ])
    }

    @Test("ip saddr . ip daddr @s masquerade, and ip saddr vmap @v in an inet table")
    func memberAndVerdictMap() throws {
        let pair: [NFTStatement.Selector] = [.address(.source, v4: true), .address(.destination, v4: true)]
        #expect(
            try expressions([.member(pair, set: "s"), .masquerade], family: .ip) == [
                "[ payload load 4b @ network header + 12 => reg 1 ]",
                "[ payload load 4b @ network header + 16 => reg 9 ]",
                "[ lookup reg 1 set s ]",
                "[ masq ]",
            ])
        #expect(
            try expressions([.verdictMap([.address(.source, v4: true)], map: "v")], family: .inet) == [
                "[ meta load nfproto => reg 1 ]",
                "[ cmp eq reg 1 0x00000002 ]",
                "[ payload load 4b @ network header + 12 => reg 1 ]",
                "[ lookup reg 1 set v dreg 0 ]",
            ])
    }

    @Test("Elements as the kernel lists them: key, value, verdict and comment (captured from nft list map)")
    func decodeElements() throws {
        func decode(_ hex: String) throws -> [NFTElement] {
            let bytes = stride(from: 0, to: hex.count, by: 2).compactMap { i -> UInt8? in
                let start = hex.index(hex.startIndex, offsetBy: i)
                return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)
            }
            return try NetlinkMessage.parse(bytes).flatMap(NFTClient.decodeElements)
        }
        let map = try decode(
            "580000000c0a0200000000007f770000020000020600010074000000060002006d000000340003003000010010000100"
                + "0c000100060000001f900000100002000c0001000a000002005000000b0006000005637472310000")
        let value = NFTElementValue.fields([.address(.v4(0x0a00_0002)), .port(80)])
        #expect(map == [NFTElement(key: [.protocolNumber(6), .port(8080)], value: value, comment: "ctr1")])
        let verdicts = try decode(
            "580000000c0a02000000000086770000020000020600010074000000060002007600000034000300300001000c000100"
                + "080001000a000002180002001400020008000100fffffffc06000200630000000800060000027800")
        #expect(verdicts == [NFTElement(key: [.address(.v4(0x0a00_0002))], value: .goto("c"), comment: "x")])
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        String(self.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " }.reversed())
    }
}
