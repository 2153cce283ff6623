import CNISkeleton
import Netlink
import PluginSupport

/// The `bridge` plugin: each container joins a Linux bridge on the host through a veth pair;
/// the bridge can be the containers' gateway (L3) or stay pure L2 (no IPAM).
public struct BridgePlugin: CNIPlugin {
    /// The plugin instance the executables run.
    public static let plugin = BridgePlugin()

    public let type = "bridge"

    public let kernel: KernelContext

    /// `kernel` is `.live` outside tests.
    public init(kernel: KernelContext = .live) { self.kernel = kernel }

    public func add(_ request: CNIRequest) throws -> CNIResult {
        try BridgeAdd(request: request, kernel: kernel).run()
    }

    public func del(_ request: CNIRequest) throws {
        try BridgeDel(request: request, kernel: kernel).run()
    }

    public func check(_ request: CNIRequest) throws {
        try BridgeCheck(request: request, kernel: kernel).run()
    }

    /// Removes masquerade rules of attachments that are gone and MAC spoof checks whose host
    /// veth is gone, then passes GC to IPAM.
    public func gc(_ request: CNIRequest) throws {
        let conf = try BridgeConfig(request)
        // Refused before anything is collected when the runtime did not say what is valid.
        let keep = try request.config.validAttachments()
        var cleanup = Cleanup()
        cleanup.run("masquerade rules") {
            try Masquerade.collect(network: request.config.name, keep: keep, kernel: kernel)
        }
        cleanup.run("mac spoof checks") {
            let names = Set(try kernel.hostRoute().links().map(\.name))
            try MacSpoofCheck.collect(existingInterfaces: names, kernel: kernel)
        }
        if !conf.ipamType.isEmpty {
            cleanup.run("IPAM") { try kernel.ipam.run(conf.ipamType, .gc, request) }
        }
        try cleanup.finish()
    }

    /// Ready when IPAM is (no IPAM: always ready), and nftables answers when `ipMasq` or
    /// `macspoofchk` needs it.
    public func status(_ request: CNIRequest) throws {
        let conf = try BridgeConfig(request)
        if conf.ipMasq || conf.macSpoofCheck { try NetfilterStatus.require(kernel) }
        if !conf.ipamType.isEmpty { try kernel.ipam.run(conf.ipamType, .status, request) }
    }
}
