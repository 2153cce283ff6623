import CNISkeleton
import IPAM

/// The `static` IPAM plugin: fixed addresses, routes and DNS from config or runtime input.
/// Nothing is stored, so DEL has nothing to do.
public struct StaticPlugin: CNIPlugin {
    /// The plugin instance the executables run.
    public static let plugin = StaticPlugin()

    public let type = "static"

    public init() {}

    public func add(_ request: CNIRequest) throws -> CNIResult {
        let config = try StaticConfig(request.config, args: request.args)
        return CNIResult(
            cniVersion: request.config.cniVersion,
            ips: config.addresses.map { CNIResult.IPConfig(address: $0.address, gateway: $0.gateway) },
            routes: config.routes, dns: config.dns)
    }

    public func del(_ request: CNIRequest) throws {}

    /// Every configured address that prevResult lists must carry the configured gateway.
    public func check(_ request: CNIRequest) throws {
        let config = try StaticConfig(request.config, args: request.args)
        let previous = try request.config.requiredPrevResult()
        for address in config.addresses {
            guard let found = previous.ips.first(where: { $0.address.address == address.address.address }) else {
                continue
            }
            if let gateway = address.gateway, found.gateway != gateway {
                throw CNIError(
                    .internalError, "static: Failed to match addr \(address.address) on interface \(request.ifname)")
            }
        }
    }
}
