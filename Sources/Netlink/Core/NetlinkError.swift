import CNISystem
/// A failure talking to the kernel over netlink.
///
/// Kernel rejections carry the operation, the real errno and the kernel's extended-ACK text,
/// so `catch let e as NetlinkError where e.errno == .fileExists` works.
public struct NetlinkError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The kernel answered with an error.
        case kernel
        /// A socket system call failed.
        case system
        /// A reply could not be parsed.
        case malformedReply
        /// A reply did not belong to the request (sequence or port mismatch).
        case unexpectedReply
        /// A dump stayed inconsistent (`NLM_F_DUMP_INTR`) after every retry.
        case dumpInterrupted
        /// The request named something that does not exist (e.g. a link name).
        case notFound
        /// The running kernel lacks the feature (e.g. ipvlan or bridge VLAN filtering).
        case unsupported
    }

    public let kind: Kind
    /// What was being done, e.g. "RTM_NEWLINK" or "socket".
    public let operation: String
    /// The errno; 0 when the failure has none.
    public let errno: Errno
    /// The kernel's extended-ACK message, when it sent one.
    public let extAckMessage: String?

    public init(kind: Kind, operation: String, errno: Errno = Errno(rawValue: 0), extAckMessage: String? = nil) {
        self.kind = kind
        self.operation = operation
        self.errno = errno
        self.extAckMessage = extAckMessage
    }

    static func malformed(_ what: String) -> NetlinkError {
        NetlinkError(kind: .malformedReply, operation: what)
    }

    public var description: String {
        switch kind {
        case .kernel, .system:
            let base = "\(operation): \(errno)"
            guard let extAckMessage, !extAckMessage.isEmpty else { return base }
            return "\(base) (\(extAckMessage))"
        case .malformedReply: return "malformed netlink reply: \(operation)"
        case .unexpectedReply: return "unexpected netlink reply: \(operation)"
        case .dumpInterrupted: return "\(operation): dump interrupted too often, giving up"
        case .notFound, .unsupported: return operation
        }
    }
}
