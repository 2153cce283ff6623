import NetAddress
import Netlink

/// Connection tracking over ctnetlink (`NETLINK_NETFILTER`, subsystem `NFNL_SUBSYS_CTNETLINK`):
/// just enough to drop the entries of one UDP or SCTP destination port. A flow that began
/// before a host port was mapped (a DNS client, say) keeps its old entry, and with it the old
/// (absent) NAT decision, for as long as it keeps sending; deleting the entry makes its next
/// packet go through the new DNAT rule.
public enum Conntrack {
    static let subsystem: UInt16 = 1 << 8  // NFNL_SUBSYS_CTNETLINK
    static let new = MessageType(rawValue: subsystem | 0)  // IPCTNL_MSG_CT_NEW
    static let get = MessageType(rawValue: subsystem | 1)  // IPCTNL_MSG_CT_GET
    static let delete = MessageType(rawValue: subsystem | 2)  // IPCTNL_MSG_CT_DELETE

    /// `CTA_TUPLE_ORIG` and its nested `CTA_TUPLE_PROTO` fields.
    struct Attribute: AttributeType {
        let rawValue: UInt16
        init(rawValue: UInt16) { self.rawValue = rawValue }
        static let tupleOriginal = Attribute(rawValue: 1)
        static let tupleProto = Attribute(rawValue: 2)  // inside the tuple
        static let protoNumber = Attribute(rawValue: 1)  // inside CTA_TUPLE_PROTO
        static let protoDestinationPort = Attribute(rawValue: 3)
    }

    /// Deletes, in address family `family` (`AF_INET` 2 or `AF_INET6` 10), every entry whose
    /// original direction goes to `destinationPort` over `protocolNumber`. Returns how many
    /// went; an entry that expired meanwhile is not an error.
    ///
    /// With `destination`, only entries to that address go (a mapping bound to a host IP).
    public static func deleteEntries(
        family: UInt8, protocolNumber: UInt8, destinationPort: UInt16, destination: IPAddress? = nil
    ) throws(NetlinkError) -> Int {
        let socket = try NetlinkSocket(protocol: NetlinkSocket.netfilterProtocol)
        socket.setReceiveTimeout(seconds: 5)
        let connection = NetlinkConnection(transport: socket)
        // nfgenmsg: the family, NFNETLINK_V0, resource id 0.
        let header: [UInt8] = [family, 0, 0, 0]
        var deleted = 0
        for entry in try connection.dump(get, payload: header) where entry.type == new {
            guard let original = try? matchingTuple(entry, protocolNumber, destinationPort, destination) else {
                continue
            }
            var w = AttributeWriter()
            w.header(header)
            w.nested(Attribute.tupleOriginal, setNestedFlag: true) { $0.header(original) }
            do {
                try connection.acknowledged(delete, payload: w.bytes)
                deleted += 1
            } catch  where error.errno == .noSuchFileOrDirectory {
                continue
            }
        }
        return deleted
    }

    /// The original tuple's raw attributes when the entry goes to the port over the protocol.
    static func matchingTuple(
        _ entry: NetlinkMessage, _ protocolNumber: UInt8, _ port: UInt16, _ destination: IPAddress? = nil
    ) throws(NetlinkError) -> [UInt8]? {
        let attributes = try AttributeReader.read(entry.payload.dropFirst(4))
        guard let original = attributes.first(where: { $0.is(Attribute.tupleOriginal) }),
            let proto = try original.nested().first(where: { $0.is(Attribute.tupleProto) })
        else { return nil }
        let fields = try proto.nested()
        guard fields.first(where: { $0.is(Attribute.protoNumber) })?.u8 == protocolNumber,
            let portBytes = fields.first(where: { $0.is(Attribute.protoDestinationPort) })?.payload,
            portBytes.count == 2,
            UInt16(portBytes[0]) << 8 | UInt16(portBytes[1]) == port
        else { return nil }
        if let destination {
            // CTA_TUPLE_IP holds CTA_IP_V4_DST (2) or CTA_IP_V6_DST (4).
            let ip = try original.nested().first { $0.type == 1 }?.nested()
            let sent = ip?.first { $0.type == 2 || $0.type == 4 }
            guard let sent, IPAddress(bytes: sent.payload) == destination else { return nil }
        }
        return original.payload
    }
}
