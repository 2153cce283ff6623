/// `TCA_*` attributes of qdisc and filter messages, from `<linux/rtnetlink.h>`.
struct TCAttribute: AttributeType {
    let rawValue: UInt16
    init(rawValue: UInt16) { self.rawValue = rawValue }
    static let kind = TCAttribute(rawValue: 1)
    static let options = TCAttribute(rawValue: 2)
}

/// Well-known tc handles (`TC_H_*`).
public enum TCHandle {
    /// `TC_H_ROOT`: the root of the egress tree.
    public static let root: UInt32 = 0xffff_ffff
    /// `TC_H_INGRESS` / `TC_H_CLSACT`: the parent of the ingress and clsact qdiscs.
    public static let ingressParent: UInt32 = 0xffff_fff1
    /// The ingress qdisc's own handle (`ffff:`), which its filters use as parent.
    public static let ingress: UInt32 = 0xffff_0000

    /// `major:minor` as tc writes it (`1:` is `make(1, 0)`).
    public static func make(_ major: UInt16, _ minor: UInt16) -> UInt32 { UInt32(major) << 16 | UInt32(minor) }
}

/// A queueing discipline to attach to a link.
public enum QdiscKind: Sendable, Equatable {
    /// Token bucket filter: `rate` in bytes per second, `burst` and `limit` in bytes.
    case tbf(rate: UInt32, burst: UInt32, limit: UInt32)
    case ingress
    case clsact

    var name: String {
        switch self {
        case .tbf: return "tbf"
        case .ingress: return "ingress"
        case .clsact: return "clsact"
        }
    }
}

/// A qdisc on link `index`, as `tc qdisc add dev X [root handle H | ingress | clsact] ...`.
public struct QdiscSpec: Sendable, Equatable {
    public var index: Int32
    public var handle: UInt32
    public var parent: UInt32
    public var kind: QdiscKind

    public init(index: Int32, kind: QdiscKind, handle: UInt32? = nil, parent: UInt32? = nil) {
        self.index = index
        self.kind = kind
        switch kind {
        case .tbf:
            self.handle = handle ?? TCHandle.make(1, 0)
            self.parent = parent ?? TCHandle.root
        case .ingress, .clsact:
            self.handle = handle ?? TCHandle.ingress
            self.parent = parent ?? TCHandle.ingressParent
        }
    }

    static func header(index: Int32, handle: UInt32, parent: UInt32, info: UInt32 = 0) -> [UInt8] {
        [0, 0, 0, 0] + AttributeWriter.encode(index) + AttributeWriter.encode(handle) + AttributeWriter.encode(parent)
            + AttributeWriter.encode(info)
    }

    var payload: [UInt8] {
        var w = AttributeWriter()
        w.header(QdiscSpec.header(index: index, handle: handle, parent: parent))
        // tc sends the kind with its NUL (unlike ip link).
        w.string(TCAttribute.kind, kind.name)
        if case .tbf(let rate, let burst, let limit) = kind {
            w.nested(TCAttribute.options) { TokenBucket(rate: rate, burst: burst, limit: limit).encode(&$0) }
        }
        return w.bytes
    }
}

/// tc's arithmetic for tbf (`tc/tc_core.c`), so our requests equal `tc`'s byte for byte.
struct TokenBucket {
    let rate: UInt32
    let burst: UInt32
    let limit: UInt32

    /// Ticks per microsecond. Linux has fixed `/proc/net/psched` at 1000/64 since 2.6.x.
    static let ticksPerMicrosecond = 1000.0 / 64.0
    /// tc's default MTU for the rate table.
    static let mtu: UInt32 = 2047

    /// Time in scheduler ticks to send `size` bytes at `rate`: tc truncates to whole
    /// microseconds first, then to whole ticks. Saturates at `UInt32.max` (tc itself wraps),
    /// so a huge burst or a tiny rate can never trap.
    static func transmitTicks(rate: UInt32, size: UInt32) -> UInt32 {
        guard rate > 0 else { return .max }
        let microseconds = saturating(1_000_000.0 * (Double(size) / Double(rate)))
        return saturating(Double(microseconds) * ticksPerMicrosecond)
    }

    static func saturating(_ value: Double) -> UInt32 {
        guard value >= 0 else { return 0 }
        guard value < 4_294_967_295.0 else { return .max }
        return UInt32(value)
    }

    /// The buffer in ticks that the kernel stores and reports for a tbf given `TCA_TBF_BURST`:
    /// it converts the burst to nanoseconds with its own fixed-point rate (`mult`, `shift`, as
    /// `psched_ratecfg_precompute` derives them) and reports `ns >> 6` truncated to 32 bits.
    /// The full value is returned so callers can see when that truncation would wrap.
    static func kernelTicks(rate: UInt32, burst: UInt32) -> UInt64 {
        guard rate > 0 else { return UInt64.max }
        var factor: UInt64 = 1_000_000_000
        var shift: UInt64 = 0
        var mult: UInt64 = 1
        while true {
            mult = factor / UInt64(rate)
            if mult & (1 << 31) != 0 || factor & (1 << 63) != 0 { break }
            factor <<= 1
            shift += 1
        }
        // burst < 2^32 and mult < 2^32, so the product fits in 64 bits.
        let nanoseconds = (UInt64(burst) * (mult & 0xffff_ffff)) >> shift
        return nanoseconds >> 6
    }

    var cellLog: UInt8 {
        var log: UInt8 = 0
        while (TokenBucket.mtu >> log) > 255 { log += 1 }
        return log
    }

    func encode(_ w: inout AttributeWriter) {
        // struct tc_ratespec: cell_log, linklayer (1 = ethernet), overhead, cell_align, mpu, rate
        let rateSpec: [UInt8] =
            [cellLog, 1] + AttributeWriter.encode(UInt16(0)) + AttributeWriter.encode(Int16(-1))
            + AttributeWriter.encode(UInt16(0)) + AttributeWriter.encode(rate)
        let peakRate = [UInt8](repeating: 0, count: 12)
        let buffer = TokenBucket.transmitTicks(rate: rate, size: burst)
        // struct tc_tbf_qopt: rate, peakrate, limit, buffer, mtu
        let qopt =
            rateSpec + peakRate + AttributeWriter.encode(limit) + AttributeWriter.encode(buffer)
            + AttributeWriter.encode(UInt32(0))
        w.bytes(TBFAttribute.parms, qopt)
        w.u32(TBFAttribute.burst, burst)
        var table: [UInt8] = []
        for i in 0..<256 {
            table += AttributeWriter.encode(
                TokenBucket.transmitTicks(rate: rate, size: UInt32(i + 1) << UInt32(cellLog)))
        }
        w.bytes(TBFAttribute.rateTable, table)
    }
}

struct TBFAttribute: AttributeType {
    let rawValue: UInt16
    init(rawValue: UInt16) { self.rawValue = rawValue }
    static let parms = TBFAttribute(rawValue: 1)
    static let rateTable = TBFAttribute(rawValue: 2)
    static let burst = TBFAttribute(rawValue: 6)
}

/// tc's tick arithmetic, for callers that compare with what the kernel reports.
public enum TBFTicks {
    /// Scheduler ticks to send `size` bytes at `rate` bytes per second, as tc computes them.
    public static func transmit(rate: UInt32, size: UInt32) -> UInt32 {
        TokenBucket.transmitTicks(rate: rate, size: size)
    }

    /// The buffer (in ticks, before the kernel truncates it to 32 bits) that a tbf made by
    /// ``QdiscKind/tbf(rate:burst:limit:)`` reports.
    public static func kernel(rate: UInt32, burst: UInt32) -> UInt64 {
        TokenBucket.kernelTicks(rate: rate, burst: burst)
    }

    /// Whether a tbf with this rate and burst is representable: both tc's buffer and the
    /// kernel's fit in 32 bits and neither is zero.
    public static func representable(rate: UInt32, burst: UInt32) -> Bool {
        let kernel = TokenBucket.kernelTicks(rate: rate, burst: burst)
        let tc = TokenBucket.transmitTicks(rate: rate, size: burst)
        return kernel > 0 && kernel < UInt64(UInt32.max) && tc > 0 && tc < UInt32.max
    }

    /// The largest burst in bytes, at most `UInt32.max`, whose buffer fits in 32 bits at `rate`.
    public static func largestBurst(rate: UInt32) -> UInt32 {
        var low: UInt32 = 0
        var high: UInt32 = .max
        // Both tick counts grow with the burst, so the representable bursts are a prefix.
        while low < high {
            let middle = low + (high - low) / 2 + 1
            let kernel = TokenBucket.kernelTicks(rate: rate, burst: middle)
            let tc = TokenBucket.transmitTicks(rate: rate, size: middle)
            if kernel < UInt64(UInt32.max) && tc < UInt32.max { low = middle } else { high = middle - 1 }
        }
        return low
    }
}

/// A u32 filter matching every packet and redirecting it to another link's egress
/// (`tc filter add dev X parent P protocol all u32 match u32 0 0 action mirred egress redirect dev Y`),
/// which is how the bandwidth plugin sends ingress traffic through an ifb.
public struct RedirectFilterSpec: Sendable, Equatable {
    public var index: Int32
    public var parent: UInt32
    public var targetIndex: Int32
    public var priority: UInt16

    public init(index: Int32, parent: UInt32 = TCHandle.ingress, targetIndex: Int32, priority: UInt16 = 0) {
        self.index = index
        self.parent = parent
        self.targetIndex = targetIndex
        self.priority = priority
    }

    /// `ETH_P_ALL` in network byte order, as tc_filter's `info` carries it.
    static let allProtocols: UInt32 = 0x0300

    var payload: [UInt8] {
        var w = AttributeWriter()
        w.header(
            QdiscSpec.header(
                index: index, handle: 0, parent: parent, info: UInt32(priority) << 16 | RedirectFilterSpec.allProtocols)
        )
        w.string(TCAttribute.kind, "u32")
        w.nested(TCAttribute.options) { options in
            options.nested(U32Attribute.actions) { actions in
                actions.nested(ActionAttribute.first) { action in
                    action.string(ActionAttribute.kind, "mirred")
                    action.nested(ActionAttribute.options, setNestedFlag: true) { mirred in
                        // struct tc_mirred: index, capab, action (TC_ACT_STOLEN), refcnt, bindcnt,
                        // eaction (TCA_EGRESS_REDIR), ifindex
                        let parms =
                            AttributeWriter.encode(UInt32(0)) + AttributeWriter.encode(UInt32(0))
                            + AttributeWriter.encode(Int32(4)) + AttributeWriter.encode(Int32(0))
                            + AttributeWriter.encode(Int32(0))
                            + AttributeWriter.encode(Int32(1)) + AttributeWriter.encode(UInt32(bitPattern: targetIndex))
                        mirred.bytes(MirredAttribute.parms, parms)
                    }
                }
            }
            // struct tc_u32_sel with TC_U32_TERMINAL and one all-zero key: match everything.
            let selector: [UInt8] = [1, 0, 1, 0] + [UInt8](repeating: 0, count: 12) + [UInt8](repeating: 0, count: 16)
            options.bytes(U32Attribute.selector, selector)
        }
        return w.bytes
    }
}

struct U32Attribute: AttributeType {
    let rawValue: UInt16
    init(rawValue: UInt16) { self.rawValue = rawValue }
    static let selector = U32Attribute(rawValue: 5)
    static let actions = U32Attribute(rawValue: 7)
}

struct ActionAttribute: AttributeType {
    let rawValue: UInt16
    init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Actions are numbered from 1 inside `TCA_U32_ACT`.
    static let first = ActionAttribute(rawValue: 1)
    static let kind = ActionAttribute(rawValue: 1)
    static let options = ActionAttribute(rawValue: 2)
}

struct MirredAttribute: AttributeType {
    let rawValue: UInt16
    init(rawValue: UInt16) { self.rawValue = rawValue }
    static let parms = MirredAttribute(rawValue: 2)
}

/// A qdisc or filter read back from the kernel.
public struct TrafficObject: Sendable, Equatable {
    public var index: Int32
    public var handle: UInt32
    public var parent: UInt32
    public var kind: String
    /// For tbf qdiscs: rate (bytes/s), limit (bytes) and buffer (ticks) from `TCA_TBF_PARMS`.
    public var tokenBucket: (rate: UInt32, limit: UInt32, buffer: UInt32)?

    public static func == (a: TrafficObject, b: TrafficObject) -> Bool {
        a.index == b.index && a.handle == b.handle && a.parent == b.parent && a.kind == b.kind
            && a.tokenBucket?.rate == b.tokenBucket?.rate && a.tokenBucket?.limit == b.tokenBucket?.limit
            && a.tokenBucket?.buffer == b.tokenBucket?.buffer
    }

    public init(index: Int32, handle: UInt32, parent: UInt32, kind: String) {
        self.index = index
        self.handle = handle
        self.parent = parent
        self.kind = kind
    }

    /// Parses an `RTM_NEWQDISC` / `RTM_NEWTFILTER` payload.
    public init(payload: [UInt8]) throws(NetlinkError) {
        let bytes = payload[...]
        guard let index: Int32 = FieldReader.integer(bytes, at: 4),
            let handle: UInt32 = FieldReader.integer(bytes, at: 8),
            let parent: UInt32 = FieldReader.integer(bytes, at: 12)
        else { throw NetlinkError.malformed("short tcmsg") }
        self.index = index
        self.handle = handle
        self.parent = parent
        let attributes = try AttributeReader.read(bytes.dropFirst(20))
        kind = attributes.first { $0.is(TCAttribute.kind) }?.string ?? ""
        if kind == "tbf", let options = attributes.first(where: { $0.is(TCAttribute.options) }),
            let parms = try options.nested().first(where: { $0.is(TBFAttribute.parms) })
        {
            let p = parms.payload[...]
            if let rate: UInt32 = FieldReader.integer(p, at: 8), let limit: UInt32 = FieldReader.integer(p, at: 24),
                let buffer: UInt32 = FieldReader.integer(p, at: 28)
            {
                tokenBucket = (rate, limit, buffer)
            }
        }
    }
}

extension RouteNetlink {
    /// Adds a qdisc. `RTM_NEWQDISC` with `NLM_F_CREATE | NLM_F_EXCL`.
    public func addQdisc(_ qdisc: QdiscSpec) throws(NetlinkError) {
        try connection.acknowledged(.newQdisc, flags: [.create, .exclusive], payload: qdisc.payload)
    }

    /// Deletes a qdisc (and its filters). `RTM_DELQDISC`; a missing one fails with `ENOENT` or `EINVAL`.
    public func deleteQdisc(_ qdisc: QdiscSpec) throws(NetlinkError) {
        var w = AttributeWriter()
        w.header(QdiscSpec.header(index: qdisc.index, handle: qdisc.handle, parent: qdisc.parent))
        w.string(TCAttribute.kind, qdisc.kind.name)
        try connection.acknowledged(.delQdisc, payload: w.bytes)
    }

    /// The qdiscs of link `index` (all links when 0). `RTM_GETQDISC` with `NLM_F_DUMP`.
    public func qdiscs(index: Int32 = 0) throws(NetlinkError) -> [TrafficObject] {
        let request = QdiscSpec.header(index: index, handle: 0, parent: 0)
        var out: [TrafficObject] = []
        for message in try connection.dump(.getQdisc, payload: request) where message.type == .newQdisc {
            let object = try TrafficObject(payload: message.payload)
            if index == 0 || object.index == index { out.append(object) }
        }
        return out
    }

    /// Adds a redirect filter. `RTM_NEWTFILTER` with `NLM_F_CREATE | NLM_F_EXCL`.
    public func addRedirectFilter(_ filter: RedirectFilterSpec) throws(NetlinkError) {
        try connection.acknowledged(.newFilter, flags: [.create, .exclusive], payload: filter.payload)
    }

    /// The filters under `parent` on link `index`. `RTM_GETTFILTER` with `NLM_F_DUMP`.
    public func filters(index: Int32, parent: UInt32) throws(NetlinkError) -> [TrafficObject] {
        let request = QdiscSpec.header(index: index, handle: 0, parent: parent)
        var out: [TrafficObject] = []
        for message in try connection.dump(.getFilter, payload: request) where message.type == .newFilter {
            out.append(try TrafficObject(payload: message.payload))
        }
        return out
    }
}
