/// A BOOTP/DHCPv4 message (RFC 2131, options RFC 2132), as the client sends and reads it.
struct DHCPMessage: Sendable, Equatable {
    enum Kind: UInt8, Sendable {
        case discover = 1, offer, request, decline, ack, nak, release, inform
    }

    var op: UInt8 = 1
    var xid: UInt32 = 0
    var broadcast = false
    /// ciaddr: the client's current address (renewal and release).
    var clientAddress: [UInt8] = [0, 0, 0, 0]
    /// yiaddr: the address the server offers.
    var yourAddress: [UInt8] = [0, 0, 0, 0]
    var hardwareAddress: [UInt8] = []
    /// Options in order (code, value); pad and end are not listed.
    var options: [(code: UInt8, value: [UInt8])] = []

    static let magicCookie: [UInt8] = [99, 130, 83, 99]

    static func == (a: DHCPMessage, b: DHCPMessage) -> Bool {
        a.op == b.op && a.xid == b.xid && a.broadcast == b.broadcast && a.clientAddress == b.clientAddress
            && a.yourAddress == b.yourAddress && a.hardwareAddress == b.hardwareAddress
            && a.options.map(\.code) == b.options.map(\.code) && a.options.map(\.value) == b.options.map(\.value)
    }

    func option(_ code: UInt8) -> [UInt8]? { options.first { $0.code == code }?.value }

    var kind: Kind? { option(53).flatMap { $0.count == 1 ? Kind(rawValue: $0[0]) : nil } }

    /// The wire form: the 236-byte BOOTP header, the cookie, options, end; padded to the
    /// 300 bytes old relays and servers expect.
    func encoded() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 236)
        out[0] = op
        out[1] = 1  // Ethernet
        out[2] = UInt8(min(hardwareAddress.count, 16))
        withUnsafeBytes(of: xid.bigEndian) { out.replaceSubrange(4..<8, with: $0) }
        if broadcast { out[10] = 0x80 }
        out.replaceSubrange(12..<16, with: clientAddress.prefix(4))
        out.replaceSubrange(16..<20, with: yourAddress.prefix(4))
        out.replaceSubrange(28..<(28 + Int(out[2])), with: hardwareAddress.prefix(16))
        out += Self.magicCookie
        for (code, value) in options {
            // Values longer than 255 bytes are split over repeated options (RFC 3396).
            var rest = value[...]
            repeat {
                let chunk = rest.prefix(255)
                out += [code, UInt8(chunk.count)] + chunk
                rest = rest.dropFirst(chunk.count)
            } while !rest.isEmpty
        }
        out.append(255)
        if out.count < 300 { out += [UInt8](repeating: 0, count: 300 - out.count) }
        return out
    }

    /// Parses a message; nil when it is not a well-formed DHCP message.
    init?(bytes: [UInt8]) {
        guard bytes.count >= 240, Array(bytes[236..<240]) == Self.magicCookie else { return nil }
        op = bytes[0]
        xid = bytes[4..<8].reduce(0) { $0 << 8 | UInt32($1) }
        broadcast = bytes[10] & 0x80 != 0
        clientAddress = Array(bytes[12..<16])
        yourAddress = Array(bytes[16..<20])
        hardwareAddress = Array(bytes[28..<(28 + Int(min(bytes[2], 16)))])
        var i = 240
        while i < bytes.count {
            let code = bytes[i]
            if code == 255 { break }
            if code == 0 { i += 1; continue }
            guard i + 1 < bytes.count, i + 2 + Int(bytes[i + 1]) <= bytes.count else { return nil }
            let value = Array(bytes[(i + 2)..<(i + 2 + Int(bytes[i + 1]))])
            // Repeated options concatenate (RFC 3396).
            if let index = options.firstIndex(where: { $0.code == code }) {
                options[index].value += value
            } else {
                options.append((code, value))
            }
            i += 2 + Int(bytes[i + 1])
        }
    }

    init(kind: Kind, xid: UInt32, hardwareAddress: [UInt8], broadcast: Bool) {
        self.xid = xid
        self.hardwareAddress = hardwareAddress
        self.broadcast = broadcast
        options = [(53, [kind.rawValue])]
    }
}

/// What a DHCPACK grants.
struct DHCPLease: Sendable, Equatable {
    var address: [UInt8]
    var prefixLength: Int
    var router: [UInt8]?
    var server: [UInt8]
    var leaseSeconds: UInt32
    var renewSeconds: UInt32
    var rebindSeconds: UInt32
    /// (destination, prefix length, gateway); gateway 0.0.0.0 means on-link.
    var routes: [(destination: [UInt8], prefixLength: Int, gateway: [UInt8])]
    /// The DHCPACK as it came, which is what the daemon saves to take the lease up again.
    var packet: [UInt8] = []

    static func == (a: DHCPLease, b: DHCPLease) -> Bool {
        a.address == b.address && a.prefixLength == b.prefixLength && a.router == b.router && a.server == b.server
            && a.leaseSeconds == b.leaseSeconds
            && a.routes.map { $0.destination + [UInt8($0.prefixLength)] + $0.gateway }
                == b.routes.map { $0.destination + [UInt8($0.prefixLength)] + $0.gateway }
    }

    enum Failure: Error, Equatable { case noSubnetMask, badMask }

    /// Reads the lease out of an ACK: T1 = lease/2 and T2 = 0.85 × lease unless the server
    /// sets them (T1 at least 1 s); a lease of one hour when the server gives none.
    init(ack: DHCPMessage) throws(Failure) {
        address = ack.yourAddress
        packet = ack.encoded()
        guard let mask = ack.option(1), mask.count == 4 else { throw .noSubnetMask }
        let bits = mask.reduce(0) { $0 << 8 | UInt32($1) }
        guard bits == 0 || (~bits &+ 1) & ~bits == 0 else { throw .badMask }
        prefixLength = bits.nonzeroBitCount
        router = ack.option(3).flatMap { $0.count >= 4 ? Array($0.prefix(4)) : nil }
        server = ack.option(54).flatMap { $0.count == 4 ? $0 : nil } ?? [0, 0, 0, 0]
        func seconds(_ code: UInt8) -> UInt32? {
            ack.option(code).flatMap { $0.count == 4 ? $0.reduce(0) { $0 << 8 | UInt32($1) } : nil }
        }
        leaseSeconds = seconds(51) ?? 3600
        // At least a second between renewals, whatever the server says.
        renewSeconds = max(1, seconds(58) ?? leaseSeconds / 2)
        rebindSeconds = max(renewSeconds, seconds(59) ?? UInt32(Double(leaseSeconds) * 0.85))
        if let classless = ack.option(121), let parsed = Self.classlessRoutes(classless) {
            routes = parsed
        } else {
            routes = Self.staticRoutes(ack.option(33) ?? [])
            if let router { routes.append(([0, 0, 0, 0], 0, router)) }
        }
    }

    /// RFC 3442: width, significant destination octets, router; nil when malformed.
    static func classlessRoutes(_ data: [UInt8]) -> [(destination: [UInt8], prefixLength: Int, gateway: [UInt8])]? {
        var out: [(destination: [UInt8], prefixLength: Int, gateway: [UInt8])] = []
        var i = 0
        while i < data.count {
            let width = Int(data[i])
            let significant = (width + 7) / 8
            guard width <= 32, i + 1 + significant + 4 <= data.count else { return nil }
            let destination =
                Array(data[(i + 1)..<(i + 1 + significant)]) + [UInt8](repeating: 0, count: 4 - significant)
            let gateway = Array(data[(i + 1 + significant)..<(i + 5 + significant)])
            out.append((destination, width, gateway))
            i += 5 + significant
        }
        return out
    }

    /// Option 33: (destination, router) pairs with classful masks.
    static func staticRoutes(_ data: [UInt8]) -> [(destination: [UInt8], prefixLength: Int, gateway: [UInt8])] {
        stride(from: 0, to: data.count - data.count % 8, by: 8).map { i in
            let destination = Array(data[i..<(i + 4)])
            let length = destination[0] < 128 ? 8 : destination[0] < 192 ? 16 : 24
            return (destination, length, Array(data[(i + 4)..<(i + 8)]))
        }
    }
}
