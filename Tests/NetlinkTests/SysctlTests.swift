import Glibc
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

    @Test("With CAP_SYS_ADMIN files open through the process's own procfs, and read as through /proc")
    func privateInstance() throws {
        #expect(ProcSys.isPrivate == hasSysAdmin())
        for key in ["kernel/ostype", "net/ipv4/ip_forward", "net/ipv6/conf/lo/mtu", "net/core/somaxconn"] {
            #expect(try Sysctl.read(key) == byPath("/proc/sys/" + key), "\(key)")
            #expect(try Sysctl.read(key, in: SysctlDirectories()) == byPath("/proc/sys/" + key), "\(key)")
        }
    }

    /// CAP_SYS_ADMIN (bit 21) in the effective set: a root without it gets the fallback.
    private func hasSysAdmin() -> Bool {
        guard let file = fopen("/proc/self/status", "r") else { return false }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard text.hasPrefix("CapEff:") else { continue }
            let hex = text.dropFirst("CapEff:".count).filter { $0.isHexDigit }
            return UInt64(hex, radix: 16).map { $0 & (1 << 21) != 0 } ?? false
        }
        return false
    }

    private func byPath(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        guard fgets(&line, Int32(line.count), file) != nil else { return nil }
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }
}
