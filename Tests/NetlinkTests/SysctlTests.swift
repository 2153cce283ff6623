import Netlink
import Testing

@Suite("Sysctl: keys, and the family directories files are opened relative to")
struct SysctlTests {
    @Test("A value read through SysctlDirectories is the one read by path; other keys still work")
    func relativeReads() throws {
        let directories = SysctlDirectories()
        for key in [
            "net/ipv4/ip_forward", "net.ipv6.conf.lo.mtu", "kernel/ostype", "/proc/sys/net/ipv4/tcp_syncookies",
        ] {
            #expect(try Sysctl.read(key, in: directories) == Sysctl.read(key), "\(key)")
        }
        #expect(throws: (any Error).self) { try Sysctl.read("net/ipv4/../../kernel/ostype", in: directories) }
        #expect(throws: (any Error).self) { try Sysctl.read("net/ipv6/conf/cnit-missing/mtu", in: directories) }
    }
}
