import CNISystem
import Glibc

/// The links of one namespace as its link notifications (`RTNLGRP_LINK`) announce them, read
/// without sending a request.
///
/// Why: every link request waits for the kernel's RTNL lock. Right after a pod's interface comes
/// up, the kernel's own work for it (its link-local address, then a router solicitation and MLD
/// reports that the bridge floods to every port) holds that lock: with 200 pods, a request for
/// the host port's state then waited 1 ms (median). The notification that the port is up is
/// sent before that work, and reading it needs no lock.
///
/// Only what arrives after `init` is known, so open it before the changes to watch. A dropped
/// notification (the socket's buffer overflowed) sets ``lost``: the caller then asks instead.
public final class LinkWatch {
    /// `RTMGRP_LINK`.
    static let linkGroup: UInt32 = 1

    private let socket: NetlinkSocket
    /// The newest `AF_UNSPEC` announcement per index: `RTM_NEWLINK`'s payload, or nil after
    /// `RTM_DELLINK`.
    private var latest: [Int32: [UInt8]?] = [:]
    /// Some notification was dropped or unreadable: what is known may be stale.
    public private(set) var lost = false

    /// Subscribes in the calling thread's namespace.
    public init() throws(NetlinkError) {
        socket = try NetlinkSocket(groups: LinkWatch.linkGroup)
        // Room for a burst of other pods' changes (a notification takes up to 4 KB of buffer);
        // memory is charged only as it fills.
        socket.reserveBuffers(send: 1 << 12, receive: 1 << 21)
    }

    /// Reads what has arrived. When nothing has, first waits up to `milliseconds` for something.
    public func collect(waitingUpTo milliseconds: Int32 = 0) {
        var wait = milliseconds
        while true {
            let datagram: [UInt8]?
            do { datagram = try socket.receive(waitingUpTo: wait) } catch {
                lost = true
                if error.errno == Errno(rawValue: ENOBUFS) { continue }
                return
            }
            guard let datagram else { return }
            wait = 0
            record(datagram)
        }
    }

    private func record(_ datagram: [UInt8]) {
        guard let messages = try? NetlinkMessage.parse(datagram) else {
            lost = true
            return
        }
        for message in messages where message.type == .newLink || message.type == .delLink {
            guard let header = try? InterfaceInfoHeader(decoding: message.payload[...]) else {
                lost = true
                continue
            }
            // A bridge announces its ports' port state as AF_BRIDGE messages of their index.
            guard header.family == .unspecified else { continue }
            if message.type == .newLink {
                latest[header.index] = .some(message.payload)
            } else {
                latest[header.index] = .some(nil)
            }
        }
    }

    /// The link with `index` as last announced, collected so far; nil when nothing about it
    /// arrived or it was deleted.
    public func link(index: Int32) -> Link? {
        guard let payload = latest[index] ?? nil else { return nil }
        return try? Link(payload: payload)
    }

    /// Whether anything about the link with `index` (a change, or its deletion) was collected.
    public func heard(index: Int32) -> Bool { latest[index] != nil }

    /// Waits up to `milliseconds` for the link with `index` to be announced operationally up.
    /// True when it was and nothing was lost.
    public func awaitUp(index: Int32, milliseconds: Int32) -> Bool {
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        collect()
        while !lost {
            if link(index: index)?.operationalState == .up { return true }
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1_000_000
            guard elapsed < Int(milliseconds) else { return false }
            collect(waitingUpTo: milliseconds - Int32(clamping: elapsed))
        }
        return false
    }
}
