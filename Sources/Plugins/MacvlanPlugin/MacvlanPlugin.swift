import CNISkeleton
import Netlink
import PluginSupport

/// The `macvlan` plugin: the container interface is a macvlan child of a host master.
public struct MacvlanPlugin: ChildLinkPlugin {
    /// The plugin instance the executables run.
    public static let plugin = MacvlanPlugin()

    public let type = "macvlan"

    public let kernel: KernelContext

    /// `kernel` is `.live` outside tests.
    public init(kernel: KernelContext = .live) { self.kernel = kernel }

    public func flow(_ request: CNIRequest) throws -> ChildLinkFlow {
        let f = request.config.fields
        let mode: MacvlanMode
        let master: String?, mtu: Int?, inContainer: Bool, queue: UInt64?, macText: String?
        var dns: CNIResult.DNS? = nil
        do {
            let modeName = try f.string("mode").flatMap { $0.isEmpty ? nil : $0 } ?? "bridge"
            guard
                let parsed = ["bridge": MacvlanMode.bridge, "private": .private, "vepa": .vepa, "passthru": .passthru][
                    modeName]
            else {
                throw CNIError.invalidConfig("unknown macvlan mode: \"\(modeName)\"", details: "key: mode")
            }
            mode = parsed
            master = try f.string("master")
            mtu = try f.int("mtu")
            inContainer = try f.bool("linkInContainer") ?? false
            queue = try f.uint("bcqueuelen")
            var mac = try f.string("mac")
            if let value = try request.args.value("MAC", known: ["MAC"]), !value.isEmpty { mac = value }
            if let value = try request.config.runtimeConfig()?.string("mac"), !value.isEmpty { mac = value }
            macText = mac.flatMap { $0.isEmpty ? nil : $0 }
            if let d = try f.object("dns", typeName: "DNS") {
                let parsed = try CNIResult.decodeDNS(d)
                if !parsed.isEmpty { dns = parsed }
            }
        } catch { throw CNIError.decodingConfig(error) }
        if let mtu, mtu < 0 || mtu > Int(UInt32.max) {
            throw CNIError.invalidConfig("invalid MTU \(mtu), must be [0, master MTU]", details: "key: mtu")
        }
        var mac: MACAddress? = nil
        if let macText {
            guard let parsed = MACAddress(macText) else {
                throw CNIError.invalidConfig("invalid MAC address \"\(macText)\"", details: "key: mac")
            }
            mac = parsed
        }
        let child = ChildLinkRequest(
            kind: { .macvlan(parent: $0, mode: mode) }, master: master, linkInContainer: inContainer,
            mtu: mtu.flatMap { $0 == 0 ? nil : UInt32(exactly: $0) }, mac: mac,
            broadcastQueueLength: queue.flatMap { $0 == 0 ? nil : UInt32(clamping: $0) })
        return ChildLinkFlow(
            request: request, child: child, ipamType: try request.config.ipamType(), dns: dns, kernel: kernel)
    }
}
