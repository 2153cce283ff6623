import CNISkeleton
import Netlink
import PluginSupport

/// The `bandwidth` plugin: token-bucket shaping on the host end of the container's veth.
/// Ingress (toward the container) is a tbf on the host veth; egress (from the container) is
/// redirected to an IFB named `bwp<12 hex>` and shaped there, as in the reference.
public struct BandwidthPlugin: CNIPlugin {
    /// The plugin instance the executables run.
    public static let plugin = BandwidthPlugin()

    public let type = "bandwidth"
    /// The reference accepts 0.3.0 and later only.
    public let supportedVersions = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]

    /// The kernel it talks to; tests pass a fake.
    public let kernel: KernelContext

    public init(kernel: KernelContext = .live) { self.kernel = kernel }

    /// `bwp` + the first 12 hex digits of sha512(network + containerID).
    static func ifbName(network: String, containerID: String) -> String {
        "bwp" + SHA512.hexPrefix(network + containerID, length: 12)
    }

    public func add(_ request: CNIRequest) throws -> CNIResult {
        let limits = try BandwidthLimits(request)
        guard let previous = try request.config.prevResult() else {
            throw CNIError(.invalidNetworkConfig, "must be called as chained plugin")
        }
        var result = previous
        result.cniVersion = request.config.cniVersion
        guard !limits.isEmpty else { return result }
        for note in limits.clampNotes { ProcessEnvironment().writeStderr(note + "\n") }
        let host = try kernel.hostRoute()
        let hostVeth = try hostInterface(request, previous, host: host)
        let rollback = Rollback()
        defer { rollback.unwindIfNeeded(log: { ProcessEnvironment().writeStderr("bandwidth: \($0)\n") }) }
        if let ingress = limits.ingress {
            try create("create qdisc", host.addQdisc(QdiscSpec(index: hostVeth.index, kind: ingress.tbf)))
            rollback.add("ingress shaping") {
                try? host.deleteQdisc(QdiscSpec(index: hostVeth.index, kind: ingress.tbf))
            }
        }
        if let egress = limits.egress {
            let name = Self.ifbName(network: request.config.name, containerID: request.containerID)
            try create("adding link", host.addLink(LinkSpec(name: name, kind: .ifb, mtu: hostVeth.mtu)))
            let ifb = try host.link(named: name)
            rollback.add("ifb \(name)") { try? host.deleteLink(index: ifb.index) }
            try host.setLink(index: ifb.index, up: true)
            try create("create ingress qdisc", host.addQdisc(QdiscSpec(index: hostVeth.index, kind: .ingress)))
            rollback.add("ingress qdisc") { try? host.deleteQdisc(QdiscSpec(index: hostVeth.index, kind: .ingress)) }
            try create(
                "add filter",
                host.addRedirectFilter(RedirectFilterSpec(index: hostVeth.index, targetIndex: ifb.index, priority: 1)))
            try create("create qdisc", host.addQdisc(QdiscSpec(index: ifb.index, kind: egress.tbf)))
            result.interfaces.append(
                .init(name: name, mac: try host.link(index: ifb.index).hardwareAddress.description))
        }
        rollback.commit()
        return result
    }

    private func create(_ what: String, _ body: @autoclosure () throws -> Void) throws {
        do { try body() } catch { throw CNIError(.internalError, "\(what): \(error)") }
    }

    /// The host end of the container's veth, which prevResult must list as a host interface.
    private func hostInterface(_ request: CNIRequest, _ previous: CNIResult, host: RouteNetlink) throws -> Link {
        guard !previous.interfaces.isEmpty else { throw CNIError(.internalError, "no interfaces provided") }
        let container = try kernel.containerRoute(request.netns)
        guard let link = try? container.link(named: request.ifname), link.kind == "veth", let peer = link.linkIndex
        else {
            throw CNIError(.internalError, "container interface \(request.ifname) has no veth peer")
        }
        guard let hostVeth = try? host.link(index: peer) else {
            throw CNIError(.internalError, "veth peer with index \(peer) is not in host ns")
        }
        guard previous.interfaces.contains(where: { $0.name == hostVeth.name && $0.sandbox.isEmpty }) else {
            throw CNIError(.internalError, "no veth peer of container interface found in host ns")
        }
        return hostVeth
    }

    /// Deletes the IFB; the qdiscs on the veth go with the veth. A missing IFB is fine. The
    /// limits are not read (the reference validates them here too), so no value that an ADD
    /// accepted can make the attachment undeletable.
    public func del(_ request: CNIRequest) throws {
        let host = try kernel.hostRoute()
        let name = Self.ifbName(network: request.config.name, containerID: request.containerID)
        if let ifb = try? host.link(named: name) { try? host.deleteLink(index: ifb.index) }
    }

    /// Each configured direction must have its tbf with the exact rate, limit and buffer.
    public func check(_ request: CNIRequest) throws {
        let limits = try BandwidthLimits(request)
        let previous = try request.config.requiredPrevResult()
        guard !limits.isEmpty else { return }
        let host = try kernel.hostRoute()
        let hostVeth = try hostInterface(request, previous, host: host)
        if let ingress = limits.ingress { try verify(ingress, on: hostVeth.index, host) }
        if let egress = limits.egress {
            guard
                let ifb = try? host.link(
                    named: Self.ifbName(network: request.config.name, containerID: request.containerID))
            else {
                throw CNIError(.internalError, "Failed to find qdisc: IFB device is missing")
            }
            try verify(egress, on: ifb.index, host)
        }
    }

    private func verify(_ limit: BandwidthLimits.Direction, on index: Int32, _ host: RouteNetlink) throws {
        guard let tbf = try host.qdiscs(index: index).first(where: { $0.kind == "tbf" })?.tokenBucket else {
            throw CNIError(.internalError, "Failed to find qdisc")
        }
        if tbf.rate != limit.rateBytes { throw CNIError(.internalError, "Rate doesn't match") }
        if tbf.limit != limit.limitBytes { throw CNIError(.internalError, "Limit doesn't match") }
        if !limit.matches(buffer: tbf.buffer) { throw CNIError(.internalError, "Buffer doesn't match") }
    }
}
