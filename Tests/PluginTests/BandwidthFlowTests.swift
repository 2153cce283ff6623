@testable import BandwidthPlugin
import CNISkeleton
import Netfilter
import Netlink
import PluginSupport
import Testing

/// bandwidth's ADD, CHECK and DEL against fake host and container kernels: the exact requests,
/// the rollback of a failed ADD in reverse order, and an idempotent DEL, without root.
@Suite("bandwidth flow against a fake kernel")
struct BandwidthFlowTests {
    static let prevResult =
        #"{"cniVersion":"1.0.0","interfaces":[{"name":"br0"},{"name":"veth1"},{"name":"eth0","sandbox":"/run/netns/x"}],"ips":[{"address":"10.9.0.5/24","interface":2}]}"#
    static let conf =
        #"{"cniVersion":"1.0.0","name":"bw","type":"bandwidth","ingressRate":8000000,"ingressBurst":800000,"egressRate":8000000,"egressBurst":800000,"prevResult":\#(prevResult)}"#

    /// The host with `veth1` (index 5) and the container with its peer `eth0`.
    static func kernels() -> (FakeRouteKernel, FakeRouteKernel, KernelContext) {
        let host = FakeRouteKernel(links: [.init(index: 5, name: "veth1", kind: "veth", linkIndex: 2, up: true)])
        let container = FakeRouteKernel(links: [.init(index: 2, name: "eth0", kind: "veth", linkIndex: 5, up: true)])
        nonisolated(unsafe) let (h, c) = (host, container)
        let context = KernelContext(
            netfilter: { throw NetlinkError(kind: .unsupported, operation: "no netfilter here") },
            hostRoute: { RouteNetlink(connection: NetlinkConnection(transport: h)) },
            container: { path, _ in
                ContainerNamespace(
                    path: path, route: RouteNetlink(connection: NetlinkConnection(transport: c)), descriptor: -1,
                    sysctl: FakeSysctls())
            })
        return (host, container, context)
    }

    static func request(_ command: CNICommand, _ json: String) throws -> CNIRequest {
        guard case .object(let object) = try JSONParser.parse(json) else {
            throw CNIError(.decodingFailure, "not an object")
        }
        return CNIRequest(
            command: command, containerID: "ctr1", netns: "/run/netns/x", ifname: "eth0", args: CNIArgs(""), path: [],
            stdin: Array(json.utf8), config: try NetworkConfig(object: object))
    }

    @Test("ADD: tbf on the veth, then the IFB up with an ingress qdisc, the redirect and its tbf; CHECK; DEL twice")
    func addCheckDel() throws {
        let (host, _, kernel) = Self.kernels()
        let plugin = BandwidthPlugin(kernel: kernel)
        let result = try plugin.add(Self.request(.add, Self.conf))
        let ifb = BandwidthPlugin.ifbName(network: "bw", containerID: "ctr1")
        #expect(
            host.log == [
                "new qdisc 5 tbf", "new link \(ifb) ifb", "set link \(ifb)", "new qdisc 5 ingress",
                "new filter 5", "new qdisc 101 tbf",
            ])
        #expect(result.interfaces.last?.name == ifb)
        var checked = result
        checked.cniVersion = "1.0.0"
        let withPrev =
            String(Self.conf.dropLast().split(separator: ",\"prevResult\"").first ?? "")
            + #","prevResult":\#(try checked.printed(version: "1.0.0"))}"#
        try plugin.check(Self.request(.check, withPrev))
        try plugin.del(Self.request(.del, Self.conf))
        #expect(!host.links.contains { $0.name == ifb })
        let logged = host.log.count
        try plugin.del(Self.request(.del, Self.conf))
        #expect(host.log.count == logged, "nothing left to delete")
    }

    @Test("A failed step rolls back exactly what this ADD made, newest first")
    func rollback() throws {
        let (host, _, kernel) = Self.kernels()
        host.fail = { $0 == "new filter 5" ? 1 : nil }
        let plugin = BandwidthPlugin(kernel: kernel)
        #expect(throws: (any Error).self) { try plugin.add(Self.request(.add, Self.conf)) }
        let ifb = BandwidthPlugin.ifbName(network: "bw", containerID: "ctr1")
        #expect(host.log.suffix(3) == ["del qdisc 5 ingress", "del link \(ifb)", "del qdisc 5 tbf"], "\(host.log)")
        #expect(host.qdiscs.isEmpty && host.links.map(\.name) == ["veth1"])
    }
}
