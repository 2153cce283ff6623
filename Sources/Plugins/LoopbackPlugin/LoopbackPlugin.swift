import CNISkeleton
import Netlink
import PluginSupport

/// The `loopback` plugin: brings `lo` up inside the container's netns.
///
/// `CNI_IFNAME` is ignored (containerd passes `lo`, others `eth0`); the plugin always works
/// on `lo`, as the reference does.
public struct LoopbackPlugin: CNIPlugin {
    /// The plugin instance the executables run.
    public static let plugin = LoopbackPlugin()

    public let type = "loopback"

    public init() {}

    public func add(_ request: CNIRequest) throws -> CNIResult {
        // Parse prevResult first so a bad one fails before the netns is touched.
        let previous = try request.config.prevResult()
        let route = try ContainerNetwork.routeSocket(netns: request.netns)
        let lo = try route.link(named: "lo")
        try route.setLink(index: lo.index, up: true)
        let v4 = try loopbackAddresses(route, lo, family: .inet)
        let v6 = try loopbackAddresses(route, lo, family: .inet6)
        if var previous {
            // A chained loopback passes the previous result through unchanged.
            previous.cniVersion = request.config.cniVersion
            return previous
        }
        var result = CNIResult(cniVersion: request.config.cniVersion)
        result.interfaces = [CNIResult.Interface(name: "lo", mac: "00:00:00:00:00:00", sandbox: request.netns)]
        for prefix in [v4.first, v6.first].compactMap({ $0 }) {
            result.ips.append(CNIResult.IPConfig(interface: 0, address: prefix))
        }
        return result
    }

    /// The addresses of `family` on lo; any non-loopback address is an error, as in the reference.
    private func loopbackAddresses(_ route: RouteNetlink, _ lo: Link, family: AddressFamily) throws -> [IPPrefix] {
        var prefixes: [IPPrefix] = []
        for entry in try route.addresses(family: family, index: UInt32(lo.index)) {
            guard let prefix = entry.prefix else { continue }
            guard prefix.address.isLoopback else {
                throw CNIError(
                    .internalError, "loopback interface found with non-loopback address \"\(prefix.address)\"")
            }
            prefixes.append(prefix)
        }
        return prefixes
    }

    public func del(_ request: CNIRequest) throws {
        guard !request.netns.isEmpty else { return }
        do {
            let route = try ContainerNetwork.routeSocket(netns: request.netns)
            let lo = try route.link(named: "lo")
            try route.setLink(index: lo.index, up: false)
        } catch  where ContainerNetwork.isMissingNamespace(error) {
            return
        }
    }

    public func check(_ request: CNIRequest) throws {
        let route = try ContainerNetwork.routeSocket(netns: request.netns)
        guard try route.link(named: "lo").isUp else {
            throw CNIError(.internalError, "loopback interface is down")
        }
    }
}
