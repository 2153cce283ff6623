import CNISkeleton
import Netlink
import PluginSupport

/// The `macvlan` plugin: the container interface is a macvlan child of a host master.
public struct MacvlanPlugin: CNIPlugin {
    /// The plugin instance the executables run.
    public static let plugin = MacvlanPlugin()

    public let type = "macvlan"

    public init() {}

    func flow(_ request: CNIRequest) throws -> ChildLinkFlow {
        let f = request.config.fields
        let mode: MacvlanMode
        let master: String?, mtu: Int?, inContainer: Bool, queue: UInt64?, macText: String?
        var dns: CNIResult.DNS? = nil
        do {
            let modeName = try f.string("mode").flatMap { $0.isEmpty ? nil : $0 } ?? "bridge"
            guard let parsed = ["bridge": MacvlanMode.bridge, "private": .private, "vepa": .vepa, "passthru": .passthru][modeName] else {
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
        } catch let error as CNIError { throw error } catch { throw CNIError.invalidConfig("failed to load netconf: \(error)") }
        if let mtu, mtu < 0 { throw CNIError.invalidConfig("invalid MTU \(mtu), must be [0, master MTU]", details: "key: mtu") }
        var mac: [UInt8]? = nil
        if let macText {
            guard let parsed = ContainerNetwork.parseMAC(macText) else { throw CNIError.invalidConfig("invalid MAC address \"\(macText)\"", details: "key: mac") }
            mac = parsed
        }
        let child = ChildLinkRequest(kind: { .macvlan(parent: $0, mode: mode) }, master: master, linkInContainer: inContainer,
                                     mtu: mtu.flatMap { $0 == 0 ? nil : UInt32($0) }, mac: mac,
                                     broadcastQueueLength: queue.flatMap { $0 == 0 ? nil : UInt32(clamping: $0) })
        return ChildLinkFlow(request: request, child: child, ipamType: try request.config.ipamType(), dns: dns)
    }

    public func add(_ request: CNIRequest) throws -> CNIResult { try flow(request).add() }
    public func del(_ request: CNIRequest) throws { try flow(request).del() }
    public func check(_ request: CNIRequest) throws { try flow(request).check(kind: "macvlan") }

    public func status(_ request: CNIRequest) throws {
        let ipam = try request.config.ipamType()
        if !ipam.isEmpty { try Delegate.run(ipam, command: .status, request: request) }
    }

    public func gc(_ request: CNIRequest) throws {
        let ipam = try request.config.ipamType()
        if !ipam.isEmpty { try Delegate.run(ipam, command: .gc, request: request) }
    }
}
