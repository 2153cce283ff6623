import CNISystem
import CSystemShim
import Glibc

/// A persistent TAP device made through `/dev/net/tun` (netlink cannot create one), in the
/// network namespace of the calling thread: call it inside `NetworkNamespace.withEntered`.
public enum TapDevice {
    static let tap: Int32 = 0x0002  // IFF_TAP
    static let noPacketInfo: Int32 = 0x1000  // IFF_NO_PI
    static let multiQueue: Int32 = 0x0100  // IFF_MULTI_QUEUE

    /// Creates `name` as a persistent tap (no packet info header), owned by `owner` and
    /// `group` when given, so an unprivileged VM process can open it later.
    public static func create(name: String, multiQueue: Bool, owner: UInt32?, group: UInt32?) throws(NetlinkError) {
        let fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw NetlinkError(kind: .system, operation: "open /dev/net/tun", errno: .current) }
        defer { close(fd) }
        let flags = tap | noPacketInfo | (multiQueue ? self.multiQueue : 0)
        FaultPoint.step()
        guard CSystemShim_tun_set_iff(fd, name, flags) == 0 else {
            throw NetlinkError(kind: .system, operation: "TUNSETIFF \(name)", errno: .current)
        }
        for (what, value, operation) in [(1, owner, "TUNSETOWNER"), (2, group, "TUNSETGROUP")] {
            guard let value else { continue }
            guard CSystemShim_tun_set(fd, Int32(what), UInt(value)) == 0 else {
                throw NetlinkError(kind: .system, operation: "\(operation) \(name)", errno: .current)
            }
        }
        // Persistent: the device outlives this descriptor, as a runtime hands it to a VM later.
        FaultPoint.step()
        guard CSystemShim_tun_set(fd, 0, 1) == 0 else {
            throw NetlinkError(kind: .system, operation: "TUNSETPERSIST \(name)", errno: .current)
        }
    }
}
