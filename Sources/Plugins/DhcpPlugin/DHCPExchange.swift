/// The client side of RFC 2131 for one attachment: acquire (DISCOVER, OFFER, REQUEST, ACK),
/// renew (unicast REQUEST from the bound address) and release.
struct DHCPExchange: Sendable {
    var netns: String
    var ifname: String
    /// `<containerID>/<network>/<ifname>`, cut to 254 bytes, as the reference identifies leases.
    var clientID: String
    var requested: [UInt8]
    var provided: [(code: UInt8, value: [UInt8])]
    var timing: DHCPTiming
    var broadcast: Bool

    static func clientID(containerID: String, network: String, ifname: String) -> String {
        String(decoding: Array("\(containerID)/\(network)/\(ifname)".utf8).prefix(254), as: UTF8.self)
    }

    /// The message with the options every request carries: client identifier (type 0 and
    /// the ID, as the reference sends it), parameter request list, provided options.
    private func message(_ kind: DHCPMessage.Kind, xid: UInt32, hardwareAddress: [UInt8]) -> DHCPMessage {
        var message = DHCPMessage(kind: kind, xid: xid, hardwareAddress: hardwareAddress, broadcast: broadcast)
        message.options.append((61, [0] + Array(clientID.utf8)))
        if kind != .release {
            if !requested.isEmpty { message.options.append((55, requested)) }
            for option in provided where option.code != 61 { message.options.append(option) }
        }
        return message
    }

    /// Sends `request` and resends with backoff (2 s four times, then doubling up to
    /// `resendMax`) until a reply with its xid arrives or `limit` seconds have passed.
    private func transact(_ client: DHCPClient, _ request: DHCPMessage, to server: [UInt8]?, limit: Double)
        throws(DHCPFailure) -> DHCPMessage
    {
        let start = Clock.now
        var attempt = 0
        while true {
            try client.send(request, to: server)
            let wait = attempt < 4 ? 2.0 : min(timing.resendMax, 4 * Double(1 << min(attempt - 4, 10)))
            let left = limit - (Clock.now - start)
            if let reply = client.receive(xid: request.xid, seconds: min(wait, max(left, 0))) { return reply }
            if Clock.now - start >= limit {
                throw DHCPFailure(description: "no more tries: no DHCP reply on \(ifname) after \(Int(limit)) s")
            }
            attempt += 1
        }
    }

    /// DISCOVER, OFFER, REQUEST, ACK; a NAK starts over.
    func acquire() throws(DHCPFailure) -> DHCPLease {
        let client = try DHCPClient(netns: netns, ifname: ifname)
        let start = Clock.now
        while Clock.now - start < timing.resendTimeout {
            let limit = timing.resendTimeout - (Clock.now - start)
            let discover = message(
                .discover, xid: UInt32.random(in: 1...UInt32.max), hardwareAddress: client.hardwareAddress)
            let offer = try transact(client, discover, to: nil, limit: limit)
            guard offer.kind == .offer, let server = offer.option(54) else { continue }
            var request = message(
                .request, xid: UInt32.random(in: 1...UInt32.max), hardwareAddress: client.hardwareAddress)
            request.options.insert((50, offer.yourAddress), at: 1)
            request.options.insert((54, server), at: 2)
            let answer = try transact(client, request, to: nil, limit: max(timing.timeout, 1))
            if answer.kind == .ack { return try lease(answer) }
        }
        throw DHCPFailure(description: "no more tries: no DHCP lease on \(ifname)")
    }

    /// RENEWING: a unicast REQUEST to the server, with ciaddr and without the
    /// requested-address and server-ID options (RFC 2131 §4.3.2).
    func renew(_ lease: DHCPLease) throws(DHCPFailure) -> DHCPLease {
        let client = try DHCPClient(netns: netns, ifname: ifname)
        var request = message(.request, xid: UInt32.random(in: 1...UInt32.max), hardwareAddress: client.hardwareAddress)
        request.clientAddress = lease.address
        let answer = try transact(client, request, to: lease.server, limit: max(timing.timeout, 1))
        guard answer.kind == .ack else { throw DHCPFailure(description: "lease renewal refused by the server") }
        return try self.lease(answer)
    }

    /// DHCPRELEASE to the server; best effort, there is no reply.
    func release(_ lease: DHCPLease) {
        guard let client = try? DHCPClient(netns: netns, ifname: ifname) else { return }
        var release = message(.release, xid: UInt32.random(in: 1...UInt32.max), hardwareAddress: client.hardwareAddress)
        release.clientAddress = lease.address
        release.options.append((54, lease.server))
        try? client.send(release, to: lease.server)
    }

    private func lease(_ ack: DHCPMessage) throws(DHCPFailure) -> DHCPLease {
        do { return try DHCPLease(ack: ack) } catch {
            throw DHCPFailure(
                description: error == .noSubnetMask
                    ? "DHCP option Subnet Mask not found in DHCPACK" : "DHCPACK has an invalid subnet mask")
        }
    }
}
