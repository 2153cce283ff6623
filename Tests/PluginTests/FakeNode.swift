import CNISkeleton
import Netfilter
import Netlink
import PluginSupport

/// A namespace's `/proc/sys` played by the test: values by slash-form key, every write logged.
/// Unknown keys read as "0" unless `strict`, where they fail as a missing file would.
final class FakeSysctls: SysctlScope, SysctlValues, @unchecked Sendable {
    var values: [String: String] = [:]
    private(set) var writes: [String] = []
    var strict = false
    /// Keys that can be written but not read (`net/ipv4/route/flush`).
    var writeOnly: Set<String> = []

    static func key(_ key: String) -> String {
        let path = key.hasPrefix("/proc/sys/") ? String(key.dropFirst("/proc/sys/".count)) : key
        return path.contains("/") ? path : String(path.map { $0 == "." ? "/" : $0 })
    }

    func access<T>(_ body: (any SysctlValues) throws -> T) throws -> T { try body(self) }

    func read(_ key: String) throws -> String {
        if writeOnly.contains(Self.key(key)) {
            throw CNIError(.internalError, "open /proc/sys/\(Self.key(key)): permission denied")
        }
        if let value = values[Self.key(key)] { return value }
        if strict { throw CNIError(.internalError, "open /proc/sys/\(Self.key(key)): no such file or directory") }
        return "0"
    }

    func write(_ key: String, _ value: String) throws {
        if strict, values[Self.key(key)] == nil, !writeOnly.contains(Self.key(key)) {
            throw CNIError(.internalError, "open /proc/sys/\(Self.key(key)): no such file or directory")
        }
        writes.append("\(Self.key(key))=\(value)")
        values[Self.key(key)] = value
    }
}

/// An IPAM plugin played by the test: it hands out `result` and logs each call
/// (`add ctr1/eth0`, `del ctr1/eth0`).
final class FakeIPAM: @unchecked Sendable {
    var result: CNIResult
    private(set) var log: [String] = []
    var failAdd = false
    /// Shared with the node's kernels, so an IPAM call counts as one of the plugin's changes.
    var journal: FakeJournal?

    init(_ result: CNIResult) { self.result = result }

    var runner: IPAMRunner {
        IPAMRunner(
            add: { [self] type, request in
                if let journal, !journal.allow() { throw CNIError(.internalError, "the plugin died") }
                log.append("add \(request.containerID)/\(request.ifname)")
                if failAdd { throw CNIError(.internalError, "no addresses left") }
                return result
            },
            run: { [self] type, command, request in
                if command == .del, let journal, !journal.allow() { throw CNIError(.internalError, "the plugin died") }
                log.append("\(command.rawValue.lowercased()) \(request.containerID)/\(request.ifname)")
            })
    }

    /// One IPv4 address with its gateway and a default route, as host-local would answer.
    static func v4(_ address: String = "10.1.2.5/24", gateway: String = "10.1.2.1") -> FakeIPAM {
        var result = CNIResult(cniVersion: "1.1.0")
        if let prefix = IPPrefix(address) {
            result.ips = [.init(address: prefix, gateway: IPAddress(gateway))]
        }
        if let any = IPPrefix("0.0.0.0/0") { result.routes = [.init(dst: any)] }
        return FakeIPAM(result)
    }
}

/// One node for a flow test: the host namespace, one container namespace (fake nsfs fd 42 at
/// `/run/netns/ctr`), their sysctls, a netfilter kernel and IPAM, tied into a `KernelContext`.
struct FakeNode {
    static let netns = "/run/netns/ctr"
    static let netnsFD: Int32 = 42

    let host: FakeRouteKernel
    let container: FakeRouteKernel
    let hostSysctls = FakeSysctls()
    let containerSysctls = FakeSysctls()
    let netfilter = FakeNetfilter()
    let ipam: FakeIPAM
    /// Both namespaces' changes in the order they happened (`host: new link ...`).
    let journal = FakeJournal()

    init(hostLinks: [FakeRouteKernel.FakeLink] = [], ipam: FakeIPAM = .v4()) {
        host = FakeRouteKernel("host", links: [.init(index: 1, name: "lo", kind: "", up: true)] + hostLinks)
        container = FakeRouteKernel("ctr", links: [.init(index: 1, name: "lo", kind: "", up: true)], firstIndex: 2)
        host.namespaces[Self.netnsFD] = container
        container.namespaces[Self.netnsFD] = container
        host.journal = journal
        container.journal = journal
        ipam.journal = journal
        self.ipam = ipam
    }

    /// The context a plugin runs with; `netnsGone` makes opening the netns fail as DEL sees it.
    func kernel(netnsGone: Bool = false) -> KernelContext {
        nonisolated(unsafe) let (h, c, f) = (host, container, netfilter)
        let sysctls = containerSysctls
        return KernelContext(
            netfilter: { NFTClient(transport: f, deletions: .unmarked) },
            hostRoute: { RouteNetlink(connection: NetlinkConnection(transport: h)) },
            hostSysctl: hostSysctls,
            container: { path, _ in
                if netnsGone || path != FakeNode.netns { throw NamespaceError.notExist(path: path) }
                return ContainerNamespace(
                    path: path, route: RouteNetlink(connection: NetlinkConnection(transport: c)),
                    descriptor: FakeNode.netnsFD, sysctl: sysctls)
            },
            ipam: ipam.runner)
    }

    /// Every change on the node, in order.
    var log: [String] { journal.entries }
}

/// A request as the skeleton builds it from a runtime's environment and stdin.
func flowRequest(
    _ command: CNICommand, _ json: String, containerID: String = "ctr1", netns: String = FakeNode.netns,
    ifname: String = "eth0"
) throws -> CNIRequest {
    guard case .object(let object) = try JSONParser.parse(json) else {
        throw CNIError(.decodingFailure, "not an object")
    }
    return CNIRequest(
        command: command, containerID: containerID, netns: netns, ifname: ifname, args: CNIArgs(""), path: [],
        stdin: Array(json.utf8), config: try NetworkConfig(object: object))
}

/// `conf` with `result` as its prevResult, for CHECK and for chained plugins.
func withPrevResult(_ conf: String, _ result: CNIResult) throws -> String {
    String(conf.dropLast()) + #","prevResult":\#(try result.printed(version: "1.0.0"))}"#
}
