import Glibc
import CNISkeleton
import Netlink
import CNISystem

/// Why an exchange failed.
struct DHCPFailure: Error, CustomStringConvertible {
    var description: String
    /// The interface or its namespace is gone: lease maintenance stops quietly.
    var linkGone = false
}

/// The timing knobs of the daemon (its `-timeout`, `-resendmax`, `-resendtimeout` flags).
struct DHCPTiming: Sendable {
    var timeout: Double = 10
    var resendMax: Double = 62
    var resendTimeout: Double = 208
}

/// One DHCP conversation on one interface of one network namespace. The sockets are made
/// inside the namespace on a helper thread and used from the caller's thread; they are
/// closed when the client is released, so a deleted namespace is not kept alive.
final class DHCPClient {
    private let udp: Int32
    private let packet: Int32
    let hardwareAddress: [UInt8]

    /// Opens the sockets in `netns` on `ifname`, bringing the link up if it is down.
    init(netns: String, ifname: String) throws(DHCPFailure) {
        let opened: (Int32, Int32, [UInt8])
        do {
            let namespace = try NetworkNamespace(path: netns)
            opened = try namespace.withEntered { () throws -> (Int32, Int32, [UInt8]) in
                let route = try RouteNetlink()
                let link = try route.link(named: ifname)
                if !link.flags.contains(.up) { try route.setLink(index: link.index, up: true) }
                let udp = try DHCPClient.udpSocket(ifname)
                do { return (udp, try DHCPClient.packetSocket(link.index), link.hardwareAddress.bytes) } catch {
                    close(udp); throw error
                }
            }
        } catch {
            throw DHCPFailure(description: "cannot open \(ifname) in \(netns): \(error)", linkGone: true)
        }
        (udp, packet, hardwareAddress) = opened
    }

    deinit { close(udp); close(packet) }

    private static func check(_ rc: Int32, _ what: String) throws(DHCPFailure) {
        if rc < 0 { throw DHCPFailure(description: "\(what): \(Errno.current)") }
    }

    /// A UDP socket on port 68 bound to the interface, for sending (broadcast or unicast).
    private static func udpSocket(_ ifname: String) throws(DHCPFailure) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try check(fd, "socket")
        var one: Int32 = 1
        do {
            try check(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4), "SO_REUSEADDR")
            try check(setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, 4), "SO_BROADCAST")
            try check(
                ifname.withCString { setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, $0, socklen_t(ifname.utf8.count)) },
                "SO_BINDTODEVICE")
            var address = sockaddr_in(
                sin_family: sa_family_t(AF_INET), sin_port: UInt16(68).bigEndian, sin_addr: in_addr(s_addr: 0),
                sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
            try check(
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }, "bind port 68")
        } catch { close(fd); throw error }
        return fd
    }

    /// A packet socket for IPv4 on the interface: replies arrive before the interface has
    /// an address, and servers that ignore the broadcast flag unicast them to it.
    private static func packetSocket(_ index: Int32) throws(DHCPFailure) -> Int32 {
        do { return try PacketSocket.ipv4(on: index) } catch { throw DHCPFailure(description: "\(error)") }
    }

    func send(_ message: DHCPMessage, to server: [UInt8]?) throws(DHCPFailure) {
        let bytes = message.encoded()
        let target = server ?? [255, 255, 255, 255]
        let raw = target.reduce(0) { $0 << 8 | UInt32($1) }
        var address = sockaddr_in(
            sin_family: sa_family_t(AF_INET), sin_port: UInt16(67).bigEndian, sin_addr: in_addr(s_addr: raw.bigEndian),
            sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        let sent = bytes.withUnsafeBytes { buffer in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(udp, buffer.baseAddress, buffer.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        if sent < 0 { throw DHCPFailure(description: "send DHCP message: \(Errno.current)") }
    }

    /// Waits up to `seconds` for a server reply to `xid`.
    func receive(xid: UInt32, seconds: Double) -> DHCPMessage? {
        var deadline = Clock.now + seconds
        var buffer = [UInt8](repeating: 0, count: 2048)
        while true {
            let left = deadline - Clock.now
            guard left > 0 else { return nil }
            var poller = pollfd(fd: packet, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(left, 60) * 1000) + 1)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { return nil }
            let count = buffer.withUnsafeMutableBytes { recv(packet, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { deadline = min(deadline, Clock.now + 0.1); continue }
            guard let message = Self.reply(Array(buffer[..<count])), message.op == 2, message.xid == xid,
                message.hardwareAddress == hardwareAddress
            else { continue }
            return message
        }
    }

    /// The DHCP payload of an IPv4/UDP packet to port 68.
    static func reply(_ ip: [UInt8]) -> DHCPMessage? {
        guard ip.count >= 28, ip[0] >> 4 == 4, ip[9] == 17 else { return nil }
        let header = Int(ip[0] & 0x0f) * 4
        guard ip.count >= header + 8, UInt16(ip[header + 2]) << 8 | UInt16(ip[header + 3]) == 68 else { return nil }
        return DHCPMessage(bytes: Array(ip[(header + 8)...]))
    }
}

/// Monotonic seconds.
enum Clock {
    /// Seconds since the epoch: what a saved lease's age is measured in across restarts.
    static var wall: Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static var now: Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
