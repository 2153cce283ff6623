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
        // An empty component must not turn the rest into an absolute path outside /proc/sys.
        for key in ["net/ipv4//ip_forward", "net/ipv4/./ip_forward", "net.ipv4..ip_forward"] {
            #expect(try Sysctl.read(key, in: directories) == Sysctl.read("net/ipv4/ip_forward"), "\(key)")
        }
        for key in ["net/ipv4//etc/hostname", "net/ipv6//etc/hostname", "net.ipv4./etc/hostname", "net/ipv4/"] {
            #expect(throws: (any Error).self, "\(key)") { try Sysctl.read(key, in: directories) }
        }
        #expect(throws: (any Error).self) { try Sysctl.read("net/ipv6/conf/cnit-missing/mtu", in: directories) }
    }

    @Test("Directories opened up front cover their family only, and never fall back to a path")
    func openedUpFront() throws {
        let directories = SysctlDirectories(opening: ["ipv6"])
        #expect(directories.covers(Sysctl.path("net/ipv6/conf/lo/mtu")))
        #expect(try Sysctl.read("net.ipv6.conf.lo.mtu", in: directories) == Sysctl.read("net.ipv6.conf.lo.mtu"))
        // A path would resolve in the caller's namespace, which may not be the one the
        // directories were opened in: refused instead.
        for key in ["net/ipv4/ip_forward", "kernel/ostype", "net/core/somaxconn"] {
            #expect(!directories.covers(Sysctl.path(key)), "\(key)")
            #expect(throws: (any Error).self, "\(key)") { try Sysctl.read(key, in: directories) }
        }
        #expect(!SysctlDirectories(opening: []).covers(Sysctl.path("net/ipv6/conf/lo/mtu")))
    }
}
