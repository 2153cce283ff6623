import NetAddress
import Testing

@Suite("NetAddress: typed addresses, printed as Go prints them, with arithmetic that never traps")
struct NetAddressTests {
    @Test("MACAddress parses the colon form and prints lower-case; other lengths print as given")
    func mac() throws {
        let mac = try #require(MACAddress("0A:1b:2C:3d:4E:5f"))
        #expect(mac.bytes == [0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f])
        #expect(mac.description == "0a:1b:2c:3d:4e:5f")
        for bad in [
            "", "0a:1b:2c:3d:4e", "0a:1b:2c:3d:4e:5f:60", "0a:1b:2c:3d:4e:5", "0a:1b:2c:3d:4e:zz", "0a-1b-2c-3d-4e-5f",
            "+a:1b:2c:3d:4e:5f", "0a:1b:2c:3d:4e:-f",
        ] {
            #expect(MACAddress(bad) == nil, "\(bad)")
        }
        #expect(MACAddress(bytes: []).description == "")
        #expect(MACAddress(bytes: [1, 2, 3, 4]).description == "01:02:03:04")
        #expect(MACAddress(bytes: [1, 0, 0x5e, 0, 0, 1]).isMulticast)
    }

    @Test("Prefix helpers: masked, host prefix, last address, IPv4 broadcast only below /31")
    func prefixes() throws {
        let p = try #require(IPPrefix("10.1.2.7/24"))
        #expect(p.masked.description == "10.1.2.0/24")
        #expect(p.lastAddress.description == "10.1.2.255")
        #expect(p.broadcast?.description == "10.1.2.255")
        #expect(try #require(IPPrefix("10.1.2.7/31")).broadcast == nil)
        #expect(try #require(IPPrefix("fd00::7/64")).broadcast == nil)
        #expect(try #require(IPAddress("fd00::7")).hostPrefix.description == "fd00::7/128")
        #expect(try #require(IPAddress("fe80::1")).isLinkLocalUnicast)
        #expect(try #require(IPAddress("febf::1")).isLinkLocalUnicast)
        #expect(!(try #require(IPAddress("fec0::1")).isLinkLocalUnicast))
        #expect(!(try #require(IPAddress("10.0.0.1")).isLinkLocalUnicast))
    }

    @Test("Out-of-range prefix lengths and extreme steps are bounded, never a trap")
    func extremes() {
        for length in [Int.min, -1, 33, 129, Int.max] {
            for address in [IPAddress.v4(0x0a01_0207), .v6(0xfd00 << 112 | 7)] {
                let p = IPPrefix(address: address, prefixLength: length)
                _ = p.network
                _ = p.lastAddress
                _ = p.masked
                _ = p.broadcast
                #expect((0...address.bitWidth).contains(p.boundedLength))
            }
        }
        for step in [Int.min, -1, 0, 1, Int.max] {
            _ = IPAddress.v4(0).advanced(by: step)
            _ = IPAddress.v6(0).advanced(by: step)
        }
        #expect(IPAddress.v4(0).advanced(by: -1) == .v4(UInt32.max))
        #expect(IPAddress.v4(5).distance(to: .v4(7)) == 0)
        #expect(IPAddress.v4(7).distance(to: .v6(5)) == 0)
    }
}
