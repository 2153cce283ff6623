import CNISkeleton
import Netlink

/// Rates and bursts from the config (which wins) or runtimeConfig `bandwidth`; rates in
/// bits/s, bursts in bits.
struct BandwidthLimits {
    struct Direction {
        let rateBytes: UInt32
        let burstBytes: UInt32
        /// Set when the requested burst was larger than tbf can represent at this rate.
        let clampedFrom: UInt64?

        /// rate × 25 ms latency + burst, as the reference computes the tbf limit.
        var limitBytes: UInt32 { UInt32(clamping: UInt64(rateBytes) * 25 / 1000 + UInt64(burstBytes)) }
        var tbf: QdiscKind { .tbf(rate: rateBytes, burst: burstBytes, limit: limitBytes) }

        /// Whether a tbf's reported buffer is the one this direction installs, or the one the
        /// reference installs for the same values (tc's tick arithmetic), so CHECK also passes
        /// for attachments the reference made.
        func matches(buffer: UInt32) -> Bool {
            UInt64(buffer) == TBFTicks.kernel(rate: rateBytes, burst: burstBytes)
                || buffer == TBFTicks.transmit(rate: rateBytes, size: burstBytes)
        }
    }

    var ingress: Direction?
    var egress: Direction?

    var isEmpty: Bool { ingress == nil && egress == nil }

    init(_ request: CNIRequest) throws(CNIError) {
        do {
            let runtime = try request.config.runtimeConfig()?.object("bandwidth", typeName: "BandwidthEntry")
            let top = request.config.fields
            let keys = ["ingressRate", "ingressBurst", "egressRate", "egressBurst"]
            // Static values in the config win over the capability's, as in the reference.
            let useTop = try keys.contains { try (top.uint($0) ?? 0) != 0 }
            func value(_ key: String) throws -> UInt64 { try (useTop ? top.uint(key) : runtime?.uint(key)) ?? 0 }
            ingress = try BandwidthLimits.direction("ingress", rate: value("ingressRate"), burst: value("ingressBurst"))
            egress = try BandwidthLimits.direction("egress", rate: value("egressRate"), burst: value("egressBurst"))
        } catch {
            throw CNIError.decodingConfig(error)
        }
    }

    /// Notes for stderr about bursts that were clamped.
    var clampNotes: [String] {
        [("ingress", ingress), ("egress", egress)].compactMap { name, direction in
            guard let direction, let requested = direction.clampedFrom else { return nil }
            return "bandwidth: \(name)Burst \(requested) bits is more than tbf can hold at \(name)Rate "
                + "\(UInt64(direction.rateBytes) * 8) bits/s; using \(UInt64(direction.burstBytes) * 8) bits"
        }
    }

    private static func direction(_ name: String, rate: UInt64, burst: UInt64) throws(CNIError) -> Direction? {
        if rate == 0 && burst == 0 { return nil }
        if rate != 0 && burst == 0 { throw .invalidConfig("if rate is set, burst must also be set") }
        if burst != 0 && rate == 0 { throw .invalidConfig("if burst is set, rate must also be set") }
        if burst / 8 >= UInt64(UInt32.max) { throw .invalidConfig("burst cannot be more than 4GB") }
        guard rate / 8 > 0, let rateBytes = UInt32(exactly: rate / 8) else {
            throw .invalidConfig("invalid \(name)Rate \(rate): must be 8 to \(UInt64(UInt32.max) * 8) bits/s")
        }
        // burst / 8 < UInt32.max was checked above.
        let requested = UInt32(truncatingIfNeeded: burst / 8)
        if TBFTicks.representable(rate: rateBytes, burst: requested) {
            return Direction(rateBytes: rateBytes, burstBytes: requested, clampedFrom: nil)
        }
        // Too small: tbf would get a zero buffer, so nothing could ever be sent.
        if requested == 0 || TBFTicks.kernel(rate: rateBytes, burst: requested) == 0
            || TBFTicks.transmit(rate: rateBytes, size: requested) == 0
        {
            throw .invalidConfig(
                "invalid \(name)Burst \(burst): too small for \(name)Rate \(rate) (tbf buffer would be 0)")
        }
        // Too large: tbf's 32-bit buffer (in 64 ns ticks, about 275 s of traffic) would wrap.
        return Direction(rateBytes: rateBytes, burstBytes: TBFTicks.largestBurst(rate: rateBytes), clampedFrom: burst)
    }
}
