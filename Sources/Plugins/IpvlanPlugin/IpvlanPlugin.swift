import CNISkeleton
import Netlink
import PluginSupport

/// The `ipvlan` plugin: the container interface is an ipvlan child of a host master. On a
/// kernel without ipvlan, ADD fails with an error naming the missing support.
public struct IpvlanPlugin: ChildLinkPlugin {
    /// The plugin instance the executables run.
    public static let plugin = IpvlanPlugin()

    public let type = "ipvlan"

    public let kernel: KernelContext

    /// `kernel` is `.live` outside tests.
    public init(kernel: KernelContext = .live) { self.kernel = kernel }

    public func flow(_ request: CNIRequest) throws -> ChildLinkFlow {
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
        } catch { throw CNIError.decodingConfig(error) }
        if let mtu, mtu > Int(UInt32.max) {
            throw CNIError.invalidConfig("invalid MTU \(mtu), must be [0, master MTU]", details: "key: mtu")
        }
        let ipamType = try request.config.ipamType()
        // Chained without a master: the single named interface of prevResult is the master.
        if master == nil, let previous = try request.config.prevResult() {
            guard previous.interfaces.count == 1, !previous.interfaces[0].name.isEmpty else {
                throw CNIError.invalidConfig("chained master failure. PrevResult lacks a single named interface")
            }
            master = previous.interfaces[0].name
        }
        let child = ChildLinkRequest(
            kind: { .ipvlan(parent: $0, mode: mode, flag: .bridge) }, master: master, linkInContainer: inContainer,
            mtu: mtu.flatMap { $0 <= 0 ? nil : UInt32(exactly: $0) }, mac: nil)
        return ChildLinkFlow(
            request: request, child: child, ipamType: ipamType, usePrevResultAddresses: true, dns: nil, kernel: kernel)
    }
}
