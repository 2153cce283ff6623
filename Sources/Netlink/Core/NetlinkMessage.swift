/// One netlink message: `struct nlmsghdr` plus its payload.
public struct NetlinkMessage: Sendable, Equatable {
    public static let headerSize = 16

    public var type: MessageType
    public var flags: MessageFlags
    public var sequence: UInt32
    public var portID: UInt32
    /// Everything after the 16-byte header (the fixed family header and attributes).
    public var payload: [UInt8]

    public init(type: MessageType, flags: MessageFlags, sequence: UInt32 = 0, portID: UInt32 = 0, payload: [UInt8]) {
        self.type = type
        self.flags = flags
        self.sequence = sequence
        self.portID = portID
        self.payload = payload
    }

    /// The wire form, padded to 4 bytes.
    public func encoded() -> [UInt8] {
        var out = AttributeWriter.encode(UInt32(NetlinkMessage.headerSize + payload.count))
        out += AttributeWriter.encode(type.rawValue)
        out += AttributeWriter.encode(flags.rawValue)
        out += AttributeWriter.encode(sequence)
        out += AttributeWriter.encode(portID)
        out += payload
        while out.count % 4 != 0 { out.append(0) }
        return out
    }

    /// Splits one datagram into messages, checking every length.
    public static func parse(_ datagram: [UInt8]) throws(NetlinkError) -> [NetlinkMessage] {
        var out: [NetlinkMessage] = []
        var i = 0
        let all = datagram[...]
        while datagram.count - i >= headerSize {
            guard let len: UInt32 = FieldReader.integer(all, at: i),
                let type: UInt16 = FieldReader.integer(all, at: i + 4),
                let flags: UInt16 = FieldReader.integer(all, at: i + 6),
                let seq: UInt32 = FieldReader.integer(all, at: i + 8),
                let pid: UInt32 = FieldReader.integer(all, at: i + 12)
            else { break }
            let length = Int(len)
            guard length >= headerSize, i + length <= datagram.count else {
                throw NetlinkError.malformed("message length \(length) at offset \(i) overruns the datagram")
            }
            out.append(
                NetlinkMessage(
                    type: MessageType(rawValue: type), flags: MessageFlags(rawValue: flags), sequence: seq, portID: pid,
                    payload: Array(datagram[(i + headerSize)..<(i + length)])))
            i += (length + 3) & ~3
        }
        return out
    }
}
