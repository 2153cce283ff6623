import Glibc
import CNISystem

/// Moves datagrams to and from the kernel. A protocol so tests can play the kernel.
public protocol NetlinkTransport: AnyObject {
    /// The port ID the kernel assigned; replies are addressed to it.
    var portID: UInt32 { get }
    func send(_ bytes: [UInt8]) throws(NetlinkError)
    func receive() throws(NetlinkError) -> [UInt8]
    /// Grows the buffers for a large batch and its acknowledgements (see `NetlinkSocket`).
    func reserveBuffers(send: Int, receive: Int)
    /// Asks for the final release to happen off this process's exit path (see `DeferredClose`).
    func releaseInBackground()
}

extension NetlinkTransport {
    /// A transport without kernel buffers (a test's fake) has nothing to grow.
    public func reserveBuffers(send: Int, receive: Int) {}
    /// A transport without a kernel socket has nothing to release.
    public func releaseInBackground() {}
}

/// A raw `AF_NETLINK` socket with the suite's policy: `SOCK_CLOEXEC` (so delegated plugins
/// never inherit it), a kernel-assigned port, extended ACKs and strict checking on.
///
/// The socket stays bound to the network namespace of the thread that created it.
public final class NetlinkSocket: NetlinkTransport {
    /// `NETLINK_ROUTE`.
    public static let routeProtocol: Int32 = 0
    /// `NETLINK_NETFILTER`.
    public static let netfilterProtocol: Int32 = 12

    /// `SOL_NETLINK` and its options, from `<linux/netlink.h>` (Glibc's module lacks them).
    static let solNetlink: Int32 = 270
    static let extendedAck: Int32 = 11  // NETLINK_EXT_ACK
    static let strictChecking: Int32 = 12  // NETLINK_GET_STRICT_CHK
    /// `SO_SNDBUFFORCE` and `SO_RCVBUFFORCE`, from `<asm-generic/socket.h>`.
    static let sendBufferForce: Int32 = 32
    static let receiveBufferForce: Int32 = 33

    private let fd: Int32
    public let portID: UInt32
    /// One datagram's room, reused by every receive and never zeroed: a fresh zeroed 64 KB
    /// per reply cost a memset and fresh heap pages on each of an ADD's round trips.
    private var buffer: UnsafeMutableRawBufferPointer?

    private var receiveBuffer: UnsafeMutableRawBufferPointer {
        if let buffer { return buffer }
        let made = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
        buffer = made
        return made
    }

    /// Opens and binds a socket for `netlinkProtocol` in the calling thread's netns, a member
    /// of the multicast `groups` (a bit mask, `RTMGRP_*`) when given.
    public init(protocol netlinkProtocol: Int32 = NetlinkSocket.routeProtocol, groups: UInt32 = 0)
        throws(NetlinkError)
    {
        let fd = socket(Int32(AF_NETLINK), Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), netlinkProtocol)
        guard fd >= 0 else { throw NetlinkSocket.systemError("socket") }
        // struct sockaddr_nl { sa_family_t nl_family; unsigned short nl_pad; __u32 nl_pid; __u32 nl_groups; }
        var address = [UInt8](repeating: 0, count: 12)
        address[0] = UInt8(AF_NETLINK)
        for byte in 0..<4 { address[8 + byte] = UInt8(truncatingIfNeeded: groups >> (8 * UInt32(byte))) }
        let bound = address.withUnsafeBytes {
            bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), 12)
        }
        guard bound == 0 else {
            let error = NetlinkSocket.systemError("bind")
            close(fd)
            throw error
        }
        var length = socklen_t(12)
        let named = address.withUnsafeMutableBytes {
            getsockname(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
        }
        guard named == 0 else {
            let error = NetlinkSocket.systemError("getsockname")
            close(fd)
            throw error
        }
        self.fd = fd
        self.portID = UInt32(address[4]) | UInt32(address[5]) << 8 | UInt32(address[6]) << 16 | UInt32(address[7]) << 24
        // Extended ACK gives the kernel's reason text; strict checking makes filtered dumps exact.
        // Older kernels may lack either option, which only costs detail, so failures are ignored.
        var on: Int32 = 1
        _ = setsockopt(
            fd, NetlinkSocket.solNetlink, NetlinkSocket.extendedAck, &on, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(
            fd, NetlinkSocket.solNetlink, NetlinkSocket.strictChecking, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    private var deferred = false

    deinit {
        if deferred { DeferredClose.close(fd) } else { close(fd) }
        buffer?.deallocate()
    }

    public func releaseInBackground() { deferred = true }

    /// Makes `receive` fail with `EAGAIN` after `seconds` without data, so a reply the kernel
    /// never sends cannot hang a plugin.
    public func setReceiveTimeout(seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Grows the socket's buffers to at least `send` and `receive` bytes: a message longer
    /// than the send buffer fails with `EMSGSIZE`, and replies that overflow the receive
    /// buffer are dropped (`ENOBUFS`). As root the system limits (`rmem_max`, `wmem_max`) do
    /// not apply (`SO_*BUFFORCE`); otherwise the capped `SO_*BUF` is the best there is.
    public func reserveBuffers(send: Int, receive: Int) {
        func set(_ force: Int32, _ plain: Int32, _ size: Int) {
            // The kernel doubles what it is given, for its bookkeeping.
            var value = Int32(clamping: size / 2 + 1)
            if setsockopt(fd, SOL_SOCKET, force, &value, socklen_t(MemoryLayout<Int32>.size)) != 0 {
                _ = setsockopt(fd, SOL_SOCKET, plain, &value, socklen_t(MemoryLayout<Int32>.size))
            }
        }
        set(NetlinkSocket.sendBufferForce, SO_SNDBUF, send)
        set(NetlinkSocket.receiveBufferForce, SO_RCVBUF, receive)
    }

    public func send(_ bytes: [UInt8]) throws(NetlinkError) {
        while true {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
            if n >= 0 { return }
            if errno == EINTR { continue }
            throw NetlinkSocket.systemError("send")
        }
    }

    public func receive() throws(NetlinkError) -> [UInt8] {
        let room = receiveBuffer
        while true {
            let n = recv(fd, room.baseAddress, room.count, Int32(MSG_TRUNC))
            if n < 0 {
                if errno == EINTR { continue }
                throw NetlinkSocket.systemError("recv")
            }
            guard n <= room.count else {
                throw NetlinkError.malformed("reply of \(n) bytes truncated to \(room.count)")
            }
            return Array(UnsafeRawBufferPointer(rebasing: room[0..<n]))
        }
    }

    /// The next datagram, waiting at most `milliseconds` (0: none) for one to arrive; nil
    /// when none did.
    public func receive(waitingUpTo milliseconds: Int32) throws(NetlinkError) -> [UInt8]? {
        var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let n = poll(&ready, 1, milliseconds)
            if n > 0 { break }
            if n == 0 { return nil }
            if errno != EINTR { throw NetlinkSocket.systemError("poll") }
        }
        return try receive()
    }

    static func systemError(_ call: String) -> NetlinkError {
        NetlinkError(kind: .system, operation: call, errno: .current)
    }
}
