import CNISkeleton
import Netlink
import PluginSupport

/// The `vlan` plugin: the container interface is an 802.1q child of a host master, created
/// and configured like macvlan's. On a kernel without 802.1q, ADD fails with an error naming
/// the missing support.
public struct VlanPlugin: ChildLinkPlugin {
    /// The plugin instance the executables run.
    public static let plugin = VlanPlugin()

    public let type = "vlan"

    public let kernel: KernelContext

    /// `kernel` is `.live` outside tests.
    public init(kernel: KernelContext = .live) { self.kernel = kernel }

    public func flow(_ request: CNIRequest) throws -> ChildLinkFlow {
        let f = request.config.fields
        let master: String?, id: Int, mtu: Int?, inContainer: Bool
        var dns: CNIResult.DNS? = nil
        do {
            master = try f.string("master").flatMap { $0.isEmpty ? nil : $0 }
            id = try f.int("vlanId") ?? 0
            mtu = try f.int("mtu")
            inContainer = try f.bool("linkInContainer") ?? false
            if let d = try f.object("dns", typeName: "DNS") {
                let parsed = try CNIResult.decodeDNS(d)
                if !parsed.isEmpty { dns = parsed }
            }
        } catch { throw CNIError.decodingConfig(error) }
        guard let master else {
            throw CNIError.invalidConfig(
                "\"master\" field is required. It specifies the host interface name to create the VLAN for",
                details: "key: master")
        }
        guard (0...4094).contains(id) else {
            throw CNIError.invalidConfig(
                "invalid VLAN ID \(id) (must be between 0 and 4094 inclusive)", details: "key: vlanId")
        }
        if let mtu, mtu < 0 || mtu > Int(UInt32.max) {
            throw CNIError.invalidConfig("invalid MTU \(mtu), must be [0, master MTU]", details: "key: mtu")
        }
        let child = ChildLinkRequest(
            kind: { .vlan(parent: $0, id: UInt16(id)) }, master: master, linkInContainer: inContainer,
            mtu: mtu.flatMap { $0 == 0 ? nil : UInt32(exactly: $0) }, mac: nil)
        return ChildLinkFlow(
            request: request, child: child, ipamType: try request.config.ipamType(), usePrevResultAddresses: false,
            dns: dns, kernel: kernel)
    }
}
