import CNISkeleton
import Netlink
import PluginSupport

/// The `ipvlan` plugin: the container interface is an ipvlan child of a host master. On a
/// kernel without ipvlan, ADD fails with an error naming the missing support.
public struct IpvlanPlugin: CNIPlugin {
    /// The plugin instance the executables run.
    public static let plugin = IpvlanPlugin()

    public let type = "ipvlan"

    public init() {}

    func flow(_ request: CNIRequest) throws -> ChildLinkFlow {
        let f = request.config.fields
        let mode: IpvlanMode
        var master: String?
        let mtu: Int?, inContainer: Bool
        do {
            let modeName = try f.string("mode").flatMap { $0.isEmpty ? nil : $0 } ?? "l2"
            guard let parsed = ["l2": IpvlanMode.l2, "l3": .l3, "l3s": .l3s][modeName] else {
                throw CNIError.invalidConfig("unknown ipvlan mode: \"\(modeName)\"", details: "key: mode")
            }
            mode = parsed
            master = try f.string("master").flatMap { $0.isEmpty ? nil : $0 }
            mtu = try f.int("mtu")
            inContainer = try f.bool("linkInContainer") ?? false
        } catch let error as CNIError { throw error } catch { throw CNIError.invalidConfig("failed to load netconf: \(error)") }
        let ipamType = try request.config.ipamType()
        // Chained without a master: the single named interface of prevResult is the master.
        if master == nil, let previous = try request.config.prevResult() {
            guard previous.interfaces.count == 1, !previous.interfaces[0].name.isEmpty else {
                throw CNIError.invalidConfig("chained master failure. PrevResult lacks a single named interface")
            }
            master = previous.interfaces[0].name
        }
        let child = ChildLinkRequest(kind: { .ipvlan(parent: $0, mode: mode, flag: .bridge) }, master: master, linkInContainer: inContainer,
                                     mtu: mtu.flatMap { $0 <= 0 ? nil : UInt32($0) }, mac: nil)
        return ChildLinkFlow(request: request, child: child, ipamType: ipamType, usePrevResultAddresses: true, dns: nil)
    }

    public func add(_ request: CNIRequest) throws -> CNIResult { try flow(request).add() }
    public func del(_ request: CNIRequest) throws { try flow(request).del() }
    public func check(_ request: CNIRequest) throws { try flow(request).check(kind: "ipvlan") }

    public func status(_ request: CNIRequest) throws {
        let ipam = try request.config.ipamType()
        if !ipam.isEmpty { try Delegate.run(ipam, command: .status, request: request) }
    }

    public func gc(_ request: CNIRequest) throws {
        let ipam = try request.config.ipamType()
        if !ipam.isEmpty { try Delegate.run(ipam, command: .gc, request: request) }
    }
}
