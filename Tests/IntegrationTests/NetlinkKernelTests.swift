import Foundation
import NetAddress
import Netlink
import Testing
import TestSupport

/// The Netlink module against the real kernel, inside fresh namespaces, compared with `ip -j`.
@Suite("Netlink against the kernel", .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct NetlinkKernelTests {
    @Test("A socket opened inside a netns sees that netns, and link state matches ip -j")
    func linkState() throws {
        let pod = try TestNamespace("nl")
        defer { try? pod.remove() }
        let namespace = try NetworkNamespace(path: pod.path)
        let route = try namespace.withEntered { try RouteNetlink() }
        let links = try route.links()
        let ipLinks = try pod.ipJSON(["link", "show"])
        #expect(links.map(\.name) == ipLinks.map { $0["ifname"] as? String ?? "" })
        let lo = try route.link(named: "lo")
        #expect(lo.index == 1)
        #expect(!lo.isUp)
        try route.setLink(index: lo.index, up: true)
        #expect(try route.link(named: "lo").isUp)
        let flags = try pod.ipJSON(["link", "show", "lo"]).first?["flags"] as? [String] ?? []
        #expect(flags.contains("UP"))
        let mtu = try pod.ipJSON(["link", "show", "lo"]).first?["mtu"] as? Int
        #expect(Int(lo.mtu) == mtu)
    }

    @Test("Addresses match ip -j addr, and a missing link is a typed not-found error")
    func addresses() throws {
        let pod = try TestNamespace("nl")
        defer { try? pod.remove() }
        try Command.checked(["ip", "-n", pod.name, "link", "set", "lo", "up"])
        let route = try NetworkNamespace(path: pod.path).withEntered { try RouteNetlink() }
        let v4 = try route.addresses(family: .inet, index: 1)
        #expect(v4.map { $0.address } == [ip("127.0.0.1")])
        #expect(v4.first?.prefixLength == 8)
        let v6 = try route.addresses(family: .inet6, index: 1)
        #expect(v6.count == 1)
        do {
            _ = try route.link(named: "cnit-nope")
            Issue.record("expected not found")
        } catch {
            #expect(error.kind == .notFound)
        }
    }

    @Test("A LinkWatch sees a veth come up, its MAC change and its deletion, in its own namespace only")
    func linkWatch() throws {
        let pod = try TestNamespace("nlw")
        defer { try? pod.remove() }
        let namespace = try NetworkNamespace(path: pod.path)
        let (watch, route) = try namespace.withEntered { (try LinkWatch(), try RouteNetlink()) }
        let elsewhere = try LinkWatch()
        try Command.checked(["ip", "-n", pod.name, "link", "add", "cnitw0", "type", "veth", "peer", "name", "cnitw1"])
        let index = try route.link(named: "cnitw0").index
        // Down, or up without a carrier (its peer down): never announced as operationally up.
        #expect(!watch.awaitUp(index: index, milliseconds: 20))
        try route.setLink(index: index, up: true)
        #expect(!watch.awaitUp(index: index, milliseconds: 20))
        try Command.checked(["ip", "-n", pod.name, "link", "set", "cnitw1", "up"])
        #expect(watch.awaitUp(index: index, milliseconds: 2_000))
        try Command.checked(["ip", "-n", pod.name, "link", "set", "cnitw0", "address", "02:00:00:00:77:01"])
        watch.collect(waitingUpTo: 1_000)
        #expect(watch.link(index: index)?.hardwareAddress == MACAddress("02:00:00:00:77:01"))
        try route.deleteLink(index: index)
        watch.collect(waitingUpTo: 1_000)
        #expect(watch.heard(index: index) && watch.link(index: index) == nil)
        #expect(!watch.lost)
        elsewhere.collect()
        #expect(elsewhere.link(index: index)?.name != "cnitw0")
    }

    @Test("Opening a path that is not a namespace or does not exist is a typed error")
    func badPaths() {
        #expect(throws: NamespaceError.notExist(path: "/run/netns/cnit-missing")) {
            try NetworkNamespace(path: "/run/netns/cnit-missing")
        }
        #expect(throws: NamespaceError.notNamespace(path: "/etc/hostname")) {
            try NetworkNamespace(path: "/etc/hostname")
        }
    }

    @Test("The calling thread's namespace never changes")
    func threadUntouched() throws {
        let before = try String(contentsOfFile: "/proc/thread-self/net/dev", encoding: .utf8)
        let pod = try TestNamespace("nl")
        defer { try? pod.remove() }
        _ = try NetworkNamespace(path: pod.path).withEntered { try RouteNetlink() }
        let after = try String(contentsOfFile: "/proc/thread-self/net/dev", encoding: .utf8)
        #expect(before.split(separator: "\n").count == after.split(separator: "\n").count)
        let selfLink = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self/ns/net")
        let initLink = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        #expect(selfLink == initLink)
    }
}
