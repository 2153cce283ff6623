import Netlink
import PluginSupport
import Testing

@Suite("A container namespace's socket, made by a thread while the caller goes on")
struct ContainerSetupTests {
    @Test("The socket works once made: a request through it reaches the namespace's kernel")
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

    @Test("A namespace dropped before its socket is used joins its thread")
    func droppedUnused() throws {
        for _ in 0..<50 { _ = try ContainerNamespace.live(path: "/proc/self/ns/net", needs: .ipv6Sysctls) }
    }
}
