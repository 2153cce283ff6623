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
        do { try ContainerNetwork.deleteContainerInterface(netns: request.netns, ifname: request.ifname) } catch {
            failures.append("\(error)")
        }
        // Without a netns to go through, the host end from prevResult is removed directly.
        ContainerNetwork.deleteHostVeths(of: try? request.config.prevResult(), keep: [conf.bridge])
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
