import CNISkeleton
import Netlink

/// Rates and bursts from the config (which wins) or runtimeConfig `bandwidth`; rates in
/// bits/s, bursts in bits, as CONVENTIONS.md defines them.
struct BandwidthLimits {
    struct Direction {
        let rateBits: UInt64
        let burstBits: UInt64

        var rateBytes: UInt32 { UInt32(clamping: rateBits / 8) }
        var burstBytes: UInt32 { UInt32(clamping: burstBits / 8) }
        /// rate × 25 ms latency + burst, as the reference computes the tbf limit.
        var limitBytes: UInt32 { UInt32(clamping: UInt64(rateBytes) * 25 / 1000 + UInt64(burstBytes)) }
        var bufferTicks: UInt32 { TBFTicks.transmit(rate: rateBytes, size: burstBytes) }
        var tbf: QdiscKind { .tbf(rate: rateBytes, burst: burstBytes, limit: limitBytes) }
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
            ingress = try BandwidthLimits.direction(rate: value("ingressRate"), burst: value("ingressBurst"))
            egress = try BandwidthLimits.direction(rate: value("egressRate"), burst: value("egressBurst"))
        } catch {
            throw CNIError.decodingConfig(error)
        }
    }

    private static func direction(rate: UInt64, burst: UInt64) throws(CNIError) -> Direction? {
        if rate == 0 && burst == 0 { return nil }
        if rate != 0 && burst == 0 { throw .invalidConfig("if rate is set, burst must also be set") }
        if burst != 0 && rate == 0 { throw .invalidConfig("if burst is set, rate must also be set") }
        if burst / 8 >= UInt64(UInt32.max) { throw .invalidConfig("burst cannot be more than 4GB") }
        if rate / 8 == 0 || rate / 8 > UInt64(UInt32.max) { throw .invalidConfig("invalid rate \(rate)") }
        return Direction(rateBits: rate, burstBits: burst)
    }
}
