import Netlink

extension NetlinkMessage {
    /// The `NLMSG_ERROR` a kernel answers this request with (errno 0 is an ACK), addressed to `port`.
    func fakeAnswer(errno: Int32, port: UInt32) -> [UInt8] {
        NetlinkMessage(
            type: .error, flags: [], sequence: sequence, portID: port,
            payload: AttributeWriter.encode(-errno) + Array(encoded().prefix(16))
        ).encoded()
    }
}

/// An attribute type for tests that write raw attributes.
struct RawAttribute: AttributeType {
    let rawValue: UInt16
    init(rawValue: UInt16) { self.rawValue = rawValue }
}
