import CNISkeleton

/// One pool of addresses (`subnet`, `rangeStart`, `rangeEnd`, `gateway`), canonicalised as the
/// reference host-local does: start defaults to network+1, end to the last address (IPv4:
/// broadcast-1), gateway to network+1; the gateway is never handed out.
public struct IPRange: Sendable, Equatable, CustomStringConvertible {
    public var subnet: IPPrefix
    public var start: IPAddress
    public var end: IPAddress
    public var gateway: IPAddress

    /// Validates and fills in a range. `key` names it in errors (e.g. `ipam.ranges[0][1]`).
    public init(subnet: IPPrefix, start: IPAddress?, end: IPAddress?, gateway: IPAddress?, key: String) throws(CNIError)
    {
        let width = subnet.address.bitWidth
        guard subnet.prefixLength <= width - 2 else {
            throw .invalidConfig("\(key).subnet: Network \(subnet) too small to allocate from")
        }
        // A subnet that takes in loopback or multicast space (::/0 would hand out ::2/0 with
        // gateway ::1) cannot hold a pod address and its gateway.
        for special in IPRange.unusable where special.address.isV4 == subnet.address.isV4 {
            if subnet.contains(special.address) || special.contains(subnet.address) {
                throw .invalidConfig(
                    "\(key).subnet: Network \(subnet) overlaps \(special), which cannot hold pod addresses")
            }
        }
        guard subnet.network == subnet.address else {
            throw .invalidConfig(
                "\(key).subnet: Network has host bits set. For a subnet mask of length \(subnet.prefixLength) the network address is \(subnet.network)"
            )
        }
        self.subnet = subnet
        let first = subnet.network.advanced(by: 1)
        var last = subnet.lastAddress
        if last.isV4 { last = last.advanced(by: -1) }
        self.gateway = gateway ?? first
        self.start = start ?? first
        self.end = end ?? last
        if let gateway, !subnet.contains(gateway) {
            throw .invalidConfig(
                "\(key).gateway: gateway \(gateway) not in network \(subnet.network)/\(subnet.prefixLength)")
        }
        for (name, value) in [("rangeStart", start), ("rangeEnd", end)] {
            guard let value else { continue }
            guard value.isV4 == subnet.address.isV4 else {
                throw .invalidConfig("\(key).\(name): IP \(value) is not the same protocol as subnet \(networkText)")
            }
            guard subnet.contains(value) else {
                throw .invalidConfig(
                    "\(key).\(name): \(name == "rangeStart" ? "RangeStart" : "RangeEnd") \(value) not in network \(networkText)"
                )
            }
        }
        guard self.start <= self.end else {
            throw .invalidConfig("\(key).rangeEnd: \(self.end) is before rangeStart \(self.start)")
        }
    }

    var networkText: String { "\(subnet.network)/\(subnet.prefixLength)" }

    /// Loopback, "this network" and multicast space of both families.
    static let unusable: [IPPrefix] = ["127.0.0.0/8", "0.0.0.0/8", "224.0.0.0/4", "::1/128", "::/128", "ff00::/8"]
        .compactMap(IPPrefix.init)

    /// True when `ip` is inside the subnet and between start and end.
    public func contains(_ ip: IPAddress) -> Bool {
        subnet.contains(ip) && start <= ip && ip <= end
    }

    /// Whether two ranges share any address (Go's `Range.Overlaps`).
    public func overlaps(_ other: IPRange) -> Bool {
        guard start.isV4 == other.start.isV4 else { return false }
        return contains(other.start) || contains(other.end) || other.contains(start) || other.contains(end)
    }

    /// Addresses in the range that can be handed out (the gateway excluded).
    public var capacity: UInt128 {
        let size = end.distance(to: start) + 1
        return contains(gateway) ? size - 1 : size
    }

    public var description: String { "\(start)-\(end)" }
}

/// The range sets of one attachment: one address is allocated from each set; the ranges of
/// a set are alternative pools of the same family.
public struct RangeSet: Sendable, Equatable, CustomStringConvertible {
    public var ranges: [IPRange]

    public init(ranges: [IPRange], key: String) throws(CNIError) {
        guard let first = ranges.first else { throw .invalidConfig("\(key): empty range set") }
        guard ranges.allSatisfy({ $0.start.isV4 == first.start.isV4 }) else {
            throw .invalidConfig("\(key): mixed address families")
        }
        for i in ranges.indices {
            for j in ranges.indices where j > i && ranges[i].overlaps(ranges[j]) {
                throw .invalidConfig("\(key): subnets \(ranges[i]) and \(ranges[j]) overlap")
            }
        }
        self.ranges = ranges
    }

    public var isV4: Bool { ranges[0].start.isV4 }

    /// The range holding `ip`, if any.
    public func range(for ip: IPAddress) -> IPRange? { ranges.first { $0.contains(ip) } }

    public func contains(_ ip: IPAddress) -> Bool { range(for: ip) != nil }

    public func overlaps(_ other: RangeSet) -> Bool {
        ranges.contains { r in other.ranges.contains { r.overlaps($0) } }
    }

    public var description: String { ranges.map(\.description).joined(separator: ",") }
}
