import Glibc
import Netlink
import PluginSupport
import Testing

/// Entering a namespace, even the caller's own, needs CAP_SYS_ADMIN.
private let privileged = geteuid() == 0

@Suite("A container namespace's socket, made by a thread while the caller goes on")
struct ContainerSetupTests {
    @Test(
        "The socket works once made: a request through it reaches the namespace's kernel",
        .enabled(if: privileged, "setns needs root"))
    func socketWorks() throws {
        // The test's own namespace: entering it needs no privilege.
        let namespace = try ContainerNamespace.live(path: "/proc/self/ns/net", needs: .ipv6Sysctls)
        try namespace.ready()
        #expect(try namespace.route.link(named: "lo").index == 1)
        let mtu = try namespace.sysctl.access { try $0.read("net/ipv6/conf/lo/mtu") }
        #expect(mtu == (try Sysctl.read("net/ipv6/conf/lo/mtu")))
    }

    @Test("A failed setns is thrown by ready() and by every request, and nothing hangs")
    func failedEntry() throws {
        // An nsfs file of another kind passes the open's checks, and setns(CLONE_NEWNET) refuses it.
        let namespace = try ContainerNamespace.live(path: "/proc/self/ns/uts")
        #expect(throws: NamespaceError.self) { try namespace.ready() }
        #expect(throws: NetlinkError.self) { try namespace.route.link(named: "lo") }
        #expect(throws: (any Error).self) { try namespace.sysctl.access { try $0.read("net/ipv4/ip_forward") } }
    }

    @Test(
        "A namespace dropped before its socket is used joins its thread and closes what it made",
        .enabled(if: privileged, "setns needs root"))
    func droppedUnused() throws {
        let before = try openDescriptors()
        for _ in 0..<50 { _ = try ContainerNamespace.live(path: "/proc/self/ns/net", needs: .ipv6Sysctls) }
        // Each leaked namespace would keep three descriptors (nsfs, socket, ipv6 directory);
        // other tests running meanwhile account for a few.
        #expect(try openDescriptors() < before + 20)
    }

    private func openDescriptors() throws -> Int {
        guard let dir = opendir("/proc/self/fd") else { throw NamespaceError.notExist(path: "/proc/self/fd") }
        defer { closedir(dir) }
        var count = 0
        while readdir(dir) != nil { count += 1 }
        return count
    }
}
