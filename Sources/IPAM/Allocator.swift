import CNISkeleton
import CNISystem

/// Hands out one address from a range set, round-robin after `last_reserved_ip.<n>` as the
/// reference does, skipping gateways and taken addresses.
public struct Allocator {
    public let set: RangeSet
    public let setIndex: Int

    public init(set: RangeSet, setIndex: Int) {
        self.set = set
        self.setIndex = setIndex
    }

    /// Allocates for `owner`: `requested` when given, otherwise the next free address.
    public func allocate(_ store: DiskStore, for owner: Owner, requested: IPAddress?) throws(CNIError)
        -> CNIResult.IPConfig
    {
        if let requested {
            guard let range = set.range(for: requested) else {
                throw CNIError(.invalidNetworkConfig, "\(requested) not in range set \(set)")
            }
            if requested == range.gateway {
                throw CNIError(.invalidNetworkConfig, "requested ip \(requested) is subnet's gateway")
            }
            guard try store.reserve(requested, for: owner, setIndex: setIndex) else {
                throw CNIError(.internalError, "requested IP address \(requested) is not available in range set \(set)")
            }
            return config(requested, range)
        }
        // The spec forbids a second ADD for the same attachment without a DEL in between.
        if let held = store.addresses(of: owner).first(where: { set.contains($0) }) {
            throw CNIError(
                .internalError,
                "\(held) has been allocated to \(owner.containerID), duplicate allocation is not allowed")
        }
        var cursor = Cursor(set: set, after: store.lastReserved(setIndex: setIndex))
        // A taken address fails link() with EEXIST; round-robin makes the first try succeed
        // almost always, so no list of taken addresses is built.
        while let (ip, range) = cursor.next() {
            if try store.reserve(ip, for: owner, setIndex: setIndex) { return config(ip, range) }
        }
        throw CNIError(.internalError, "no IP addresses available in range set: \(set)")
    }

    private func config(_ ip: IPAddress, _ range: IPRange) -> CNIResult.IPConfig {
        CNIResult.IPConfig(
            address: IPPrefix(address: ip, prefixLength: range.subnet.prefixLength), gateway: range.gateway)
    }

    /// Walks every address of the set once, starting after `last` (or at the first range's
    /// start), wrapping from range to range, and never yielding a gateway.
    struct Cursor {
        let set: RangeSet
        var rangeIndex = 0
        var current: IPAddress?
        var remaining: UInt128

        init(set: RangeSet, after last: IPAddress?) {
            self.set = set
            remaining = set.ranges.reduce(UInt128(0)) { $0 &+ ($1.end.distance(to: $1.start) + 1) }
            if let last, let index = set.ranges.firstIndex(where: { $0.contains(last) }) {
                rangeIndex = index
                current = last
            }
        }

        mutating func next() -> (IPAddress, IPRange)? {
            while remaining > 0 {
                remaining -= 1
                var range = set.ranges[rangeIndex]
                if let current, current != range.end {
                    self.current = current.advanced(by: 1)
                } else if current == nil {
                    self.current = range.start
                } else {
                    rangeIndex = (rangeIndex + 1) % set.ranges.count
                    range = set.ranges[rangeIndex]
                    self.current = range.start
                }
                guard let ip = self.current else { return nil }
                if ip != range.gateway { return (ip, range) }
            }
            return nil
        }
    }
}

/// Reads a resolv.conf into a result's `dns` (nameserver, domain, search, options), as the
/// reference's `resolvConf` option does.
public enum ResolvConf {
    public static func parse(_ text: String) -> CNIResult.DNS {
        var dns = CNIResult.DNS()
        for raw in text.split(separator: "\n") {
            let line = String(raw).trimmingASCIIWhitespace()
            guard let first = line.first, first != "#", first != ";" else { continue }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard fields.count >= 2 else { continue }
            switch fields[0] {
            case "nameserver": dns.nameservers.append(fields[1])
            case "domain": dns.domain = fields[1]
            case "search": dns.search += fields[1...]
            case "options": dns.options += fields[1...]
            default: break
            }
        }
        return dns
    }

    /// Reads and parses the file at `path`; a missing file is a config error naming the key.
    public static func load(_ path: String) throws(CNIError) -> CNIResult.DNS {
        let bytes: [UInt8]?
        do { bytes = try FileIO.readFile(path, limit: 1 << 20) } catch {
            throw .invalidConfig("ipam.resolvConf: \(error)")
        }
        guard let bytes else { throw .invalidConfig("ipam.resolvConf: open \(path): no such file or directory") }
        return parse(String(decoding: bytes, as: UTF8.self))
    }
}
