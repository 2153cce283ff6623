import CNISystem
/// Request/response over a transport: sequence numbering, reply matching, ACK and error
/// handling with extended ACK text, and bounded retry of interrupted dumps.
public final class NetlinkConnection {
    /// How often a dump marked `NLM_F_DUMP_INTR` is retried before giving up.
    public static let dumpRetries = 5

    public let transport: any NetlinkTransport
    private var sequence: UInt32

    /// - Parameter firstSequence: injected by tests so golden bytes need no masking.
    public init(transport: any NetlinkTransport, firstSequence: UInt32 = 1) {
        self.transport = transport
        self.sequence = firstSequence &- 1
    }

    /// Opens a `NETLINK_ROUTE` socket in the calling thread's netns.
    public convenience init() throws(NetlinkError) {
        self.init(transport: try NetlinkSocket())
    }

    /// Sends a request that changes state and waits for the kernel's ACK.
    /// The corresponding flags are `NLM_F_REQUEST | NLM_F_ACK` plus `flags`.
    public func acknowledged(_ type: MessageType, flags: MessageFlags = [], payload: [UInt8]) throws(NetlinkError) {
        FaultPoint.step()
        _ = try exchange(type, flags: flags.union([.request, .ack]), payload: payload, until: .ack)
    }

    /// Sends a GET for one object and returns the kernel's single reply.
    public func single(_ type: MessageType, payload: [UInt8]) throws(NetlinkError) -> NetlinkMessage {
        guard let reply = try exchange(type, flags: .request, payload: payload, until: .firstReply).messages.first
        else {
            throw NetlinkError(kind: .unexpectedReply, operation: "\(type): no reply")
        }
        return reply
    }

    /// Sends a dump request and returns every object, retrying an interrupted dump.
    public func dump(_ type: MessageType, payload: [UInt8]) throws(NetlinkError) -> [NetlinkMessage] {
        for _ in 0...NetlinkConnection.dumpRetries {
            let replies = try exchange(type, flags: [.request, .dump], payload: payload, until: .done)
            if !replies.interrupted { return replies.messages }
        }
        throw NetlinkError(kind: .dumpInterrupted, operation: "\(type)")
    }

    private enum End { case ack, firstReply, done }

    private func exchange(_ type: MessageType, flags: MessageFlags, payload: [UInt8], until end: End)
        throws(NetlinkError) -> (messages: [NetlinkMessage], interrupted: Bool)
    {
        sequence &+= 1
        let seq = sequence
        let request = NetlinkMessage(type: type, flags: flags, sequence: seq, portID: 0, payload: payload)
        try transport.send(request.encoded())
        var replies: [NetlinkMessage] = []
        var interrupted = false
        while true {
            for message in try NetlinkMessage.parse(try transport.receive()) {
                guard message.sequence == seq, message.portID == transport.portID || message.portID == 0 else {
                    throw NetlinkError(
                        kind: .unexpectedReply,
                        operation:
                            "\(type): reply seq \(message.sequence) port \(message.portID), expected seq \(seq) port \(transport.portID)"
                    )
                }
                if message.flags.contains(.dumpInterrupted) { interrupted = true }
                switch message.type {
                case .error:
                    try NetlinkConnection.checkError(message, operation: "\(type)")
                    return (replies, interrupted)  // an ACK
                case .done:
                    try NetlinkConnection.checkDone(message, operation: "\(type)")
                    return (replies, interrupted)
                case .noop:
                    continue
                default:
                    replies.append(message)
                    if end == .firstReply { return (replies, interrupted) }
                }
            }
        }
    }

    /// Turns an `NLMSG_ERROR` with a non-zero code into a typed error with the ext-ack text;
    /// returns normally for an ACK (code 0). For families that batch (nftables).
    public static func checkError(_ message: NetlinkMessage, operation: String) throws(NetlinkError) {
        let bytes = message.payload[...]
        guard let code: Int32 = FieldReader.integer(bytes, at: 0) else {
            throw NetlinkError.malformed("short NLMSG_ERROR")
        }
        if code == 0 { return }
        var text: String? = nil
        if message.flags.contains(.ackTLVs) {
            var tlvOffset = 4 + NetlinkMessage.headerSize
            if !message.flags.contains(.capped), let originalLength: UInt32 = FieldReader.integer(bytes, at: 4) {
                tlvOffset = 4 + Int(originalLength)
            }
            if tlvOffset <= bytes.count, let attributes = try? AttributeReader.read(bytes.dropFirst(tlvOffset)) {
                text = attributes.first { $0.is(ExtAckAttribute.message) }?.string
            }
        }
        throw NetlinkError(kind: .kernel, operation: operation, errno: errno(code), extAckMessage: text)
    }

    /// The errno of a negative netlink status; `Int32.min` has no negation and is clamped
    /// (a reply's code is the kernel's, or a fuzzer's: never trapped on).
    static func errno(_ code: Int32) -> Errno { Errno(rawValue: Int32(clamping: -Int64(code))) }

    /// `NLMSG_DONE` of a dump carries the dump's own status.
    public static func checkDone(_ message: NetlinkMessage, operation: String) throws(NetlinkError) {
        if let code: Int32 = FieldReader.integer(message.payload[...], at: 0), code < 0 {
            throw NetlinkError(kind: .kernel, operation: operation, errno: errno(code))
        }
    }
}
