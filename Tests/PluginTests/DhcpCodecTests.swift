import CNISkeleton
@testable import DhcpPlugin
import Testing

@Suite("dhcp: message codec, lease options, daemon flags")
struct DhcpCodecTests {
    @Test("A DISCOVER encodes as BOOTP + cookie + options + end, padded to 300 bytes, and parses back")
    func roundTrip() throws {
        var message = DHCPMessage(
            kind: .discover, xid: 0x01020304, hardwareAddress: [2, 0, 0, 0, 0, 1], broadcast: true)
        message.options.append((61, [0] + Array("c/n/eth0".utf8)))
        let bytes = message.encoded()
        #expect(bytes.count == 300)
        #expect(Array(bytes[0..<12]) == [1, 1, 6, 0, 1, 2, 3, 4, 0, 0, 0x80, 0])
        #expect(Array(bytes[28..<34]) == [2, 0, 0, 0, 0, 1])
        #expect(Array(bytes[236..<246]) == [99, 130, 83, 99, 53, 1, 1, 61, 9, 0])
        #expect(DHCPMessage(bytes: bytes) == message)
        #expect(DHCPMessage(bytes: Array(bytes.prefix(239))) == nil, "too short")
        var truncated = bytes
        truncated[241] = 200
        #expect(DHCPMessage(bytes: Array(truncated.prefix(260))) == nil, "an option running past the end")
    }

    func ack(_ options: [(UInt8, [UInt8])]) -> DHCPMessage {
        var message = DHCPMessage(kind: .ack, xid: 7, hardwareAddress: [2, 0, 0, 0, 0, 1], broadcast: false)
        message.op = 2
        message.yourAddress = [10, 85, 0, 100]
        message.options += options.map { (code: $0.0, value: $0.1) }
        return message
    }

    @Test("An ACK gives address, mask, router, timers (T1 = lease/2, T2 = 0.85 lease) and a default route")
    func lease() throws {
        let lease = try DHCPLease(
            ack: ack([(1, [255, 255, 255, 0]), (3, [10, 85, 0, 1]), (54, [10, 85, 0, 1]), (51, [0, 0, 0, 100])]))
        #expect(lease.prefixLength == 24 && lease.router == [10, 85, 0, 1] && lease.server == [10, 85, 0, 1])
        #expect(lease.leaseSeconds == 100 && lease.renewSeconds == 50 && lease.rebindSeconds == 85)
        #expect(
            lease.routes.count == 1 && lease.routes[0].prefixLength == 0 && lease.routes[0].gateway == [10, 85, 0, 1])
        let eager = try DHCPLease(ack: ack([(1, [255, 255, 255, 0]), (58, [0, 0, 0, 0]), (59, [0, 0, 0, 0])]))
        #expect(
            eager.renewSeconds == 1 && eager.rebindSeconds == 1, "a zero T1 from the server does not make renewals spin"
        )
        #expect(throws: DHCPLease.Failure.noSubnetMask) { try DHCPLease(ack: ack([(3, [10, 85, 0, 1])])) }
        #expect(throws: DHCPLease.Failure.badMask) { try DHCPLease(ack: ack([(1, [255, 0, 255, 0])])) }
    }

    @Test("RFC 3442 classless routes replace router and option 33; 0.0.0.0 as router is on-link (scope link)")
    func classless() throws {
        // 10.0.0.0/8 via 10.85.0.1, 192.168.4.0/22 on-link, default via 10.85.0.254 (RFC 3442 encoding).
        let routes: [UInt8] = [8, 10, 10, 85, 0, 1] + [22, 192, 168, 4, 0, 0, 0, 0] + [0, 10, 85, 0, 254]
        let lease = try DHCPLease(
            ack: ack([
                (1, [255, 255, 255, 0]), (3, [10, 85, 0, 1]), (33, [172, 16, 0, 0, 10, 85, 0, 2]), (121, routes),
            ]))
        #expect(lease.routes.map(\.prefixLength) == [8, 22, 0])
        #expect(lease.routes[1].destination == [192, 168, 4, 0] && lease.routes[1].gateway == [0, 0, 0, 0])
        let result = try DaemonServer.result(lease, priority: 20)
        #expect(
            result.routes[1].scope == 253 && result.routes[1].gw == nil
                && result.routes.allSatisfy { $0.priority == 20 })
        #expect(result.ips[0].address.description == "10.85.0.100/24")
        #expect(DHCPLease.classlessRoutes([33, 1, 2, 3, 4, 5]) == nil, "a width over 32 is malformed")
    }

    @Test("Option 33 static routes use classful masks, plus the default route through the router")
    func staticRoutes() throws {
        let lease = try DHCPLease(
            ack: ack([
                (1, [255, 255, 0, 0]), (3, [10, 85, 0, 1]),
                (33, [172, 16, 0, 0, 10, 85, 0, 2, 10, 1, 0, 0, 10, 85, 0, 3]),
            ]))
        #expect(lease.routes.map(\.prefixLength) == [16, 8, 0])
    }

    @Test("Daemon flags as Go's flag package takes them; durations")
    func flags() throws {
        let daemon = try DhcpDaemon(arguments: [
            "-socketpath", "/x/s.sock", "--broadcast", "-timeout=2s", "-resendmax", "1m30s", "-pidfile", "/run/p",
        ])
        #expect(daemon.socketPath == "/x/s.sock" && daemon.broadcast && daemon.pidfile == "/run/p")
        #expect(daemon.timing.timeout == 2 && daemon.timing.resendMax == 90)
        #expect(try DhcpDaemon.duration("500ms") == 0.5)
        #expect(throws: CNIError.self) { try DhcpDaemon(arguments: ["-bogus"]) }
        #expect(throws: CNIError.self) { try DhcpDaemon(arguments: ["-pidfile", "relative"]) }
        #expect(throws: CNIError.self) { try DhcpDaemon.duration("ten") }
        for extreme in ["1" + String(repeating: "0", count: 400) + "h", "99999999999999999999s", "0s"] {
            #expect(throws: CNIError.self) { try DhcpDaemon.duration(extreme) }
        }
    }

    @Test("Client IDs are <containerID>/<network>/<ifname> cut to 254 bytes")
    func clientID() {
        #expect(DHCPExchange.clientID(containerID: "c", network: "n", ifname: "eth0") == "c/n/eth0")
        #expect(
            DHCPExchange.clientID(containerID: String(repeating: "x", count: 300), network: "n", ifname: "eth0").utf8
                .count == 254)
    }
}
