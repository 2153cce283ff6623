import Glibc

/// A C `errno` value, kept typed so callers can match on it
/// (`catch let e as NetlinkError where e.errno == .fileExists`).
public struct Errno: RawRepresentable, Error, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's current `errno`.
    public static var current: Errno { Errno(rawValue: errno) }

    /// `EPERM`.
    public static let notPermitted = Errno(rawValue: EPERM)
    /// `ENOENT`.
    public static let noSuchFileOrDirectory = Errno(rawValue: ENOENT)
    /// `ESRCH`.
    public static let noSuchProcess = Errno(rawValue: ESRCH)
    /// `EINTR`.
    public static let interrupted = Errno(rawValue: EINTR)
    /// `EBUSY`.
    public static let resourceBusy = Errno(rawValue: EBUSY)
    /// `EEXIST`.
    public static let fileExists = Errno(rawValue: EEXIST)
    /// `ENODEV`.
    public static let noSuchDevice = Errno(rawValue: ENODEV)
    /// `EINVAL`.
    public static let invalidArgument = Errno(rawValue: EINVAL)
    /// `EOPNOTSUPP`.
    public static let notSupported = Errno(rawValue: EOPNOTSUPP)
    /// `EAFNOSUPPORT`.
    public static let addressFamilyNotSupported = Errno(rawValue: EAFNOSUPPORT)
    /// `EADDRNOTAVAIL`.
    public static let addressNotAvailable = Errno(rawValue: EADDRNOTAVAIL)
    /// `ENOBUFS`.
    public static let noBufferSpace = Errno(rawValue: ENOBUFS)

    /// The C library's text for this error, e.g. "File exists".
    public var description: String { String(cString: strerror(rawValue)) }
}

/// A failed system call: what was done, to which path, and the errno captured right after the
/// call (before any cleanup could change it).
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    public let operation: String
    public let path: String
    public let errno: Errno

    /// Captures the current `errno`; call it first thing after the failed call.
    public init(_ operation: String, _ path: String, errno: Errno = .current) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String { path.isEmpty ? "\(operation): \(errno)" : "\(operation) \(path): \(errno)" }
}
