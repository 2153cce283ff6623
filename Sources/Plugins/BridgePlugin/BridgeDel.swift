import CNISkeleton
import Netlink
import PluginSupport

/// One bridge DEL: best effort and idempotent. Host-side objects are removed even when the
/// netns is gone or was not given (the reference leaks masquerade rules then).
struct BridgeDel {
    let request: CNIRequest

    func run() throws {
        let conf = try BridgeConfig(request)
        var failures: [String] = []
        if !request.netns.isEmpty {
            do {
                let container = try ContainerNetwork.routeSocket(netns: request.netns)
                if let link = try? container.link(named: request.ifname) { try container.deleteLink(index: link.index) }
            } catch where ContainerNetwork.isMissingNamespace(error) {
                // Gone with its netns: the kernel destroyed the veth pair too.
            } catch {
                failures.append("\(error)")
            }
        }
        // Without a netns to go through, the host end from prevResult is removed directly.
        if let previous = try? request.config.prevResult(), let host = try? RouteNetlink() {
            for interface in previous.interfaces where interface.sandbox.isEmpty && interface.name != conf.bridge {
                if let link = try? host.link(named: interface.name), link.kind == "veth" { try? host.deleteLink(index: link.index) }
            }
        }
        if !conf.ipamType.isEmpty {
            do { try Delegate.run(conf.ipamType, command: .del, request: request) } catch { failures.append(error.msg) }
        }
        if conf.ipMasq {
            do {
                try Masquerade.teardown(network: request.config.name, ifname: request.ifname, containerID: request.containerID)
            } catch {
                failures.append("\(error)")
            }
        }
        if conf.macSpoofCheck {
            do { try MacSpoofCheck.teardown(containerID: request.containerID, ifname: request.ifname) } catch { failures.append("\(error)") }
        }
        if !failures.isEmpty { throw CNIError(.internalError, failures.joined(separator: "; ")) }
    }
}
