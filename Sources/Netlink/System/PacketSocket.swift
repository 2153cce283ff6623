import Glibc
import CSystemShim
import CNISystem

/// A link-layer socket, for clients (DHCP) that must see IPv4 packets on an interface that has
/// no address yet.
public enum PacketSocket {
    /// `ETH_P_IP` in network byte order, as `socket(2)` and `sockaddr_ll` take it.
    static let ipv4 = UInt16(0x0800).bigEndian

    /// A `SOCK_DGRAM` packet socket bound to link `index` that receives its IPv4 packets (the
    /// link-layer header already stripped). The caller owns and closes the descriptor.
    public static func ipv4(on index: Int32) throws(NetlinkError) -> Int32 {
        let fd = socket(AF_PACKET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(ipv4))
        guard fd >= 0 else { throw NetlinkError(kind: .system, operation: "packet socket", errno: .current) }
        guard CSystemShim_bind_packet(fd, index, ipv4) == 0 else {
            let error = NetlinkError(kind: .system, operation: "bind packet socket", errno: .current)
            close(fd)
            throw error
        }
        return fd
    }
}
