import Glibc
import CSystemShim
import CNISystem

/// Why a network namespace could not be used.
public enum NamespaceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The path does not exist (Go `NSPathNotExistErr`); DEL treats this as success.
    case notExist(path: String)
    /// The path exists but is not a namespace (Go `NSPathNotNSErr`).
    case notNamespace(path: String)
    /// A system call failed.
    case system(operation: String, errno: Errno)

    public var description: String {
        switch self {
        case .notExist(let path): return "failed to Statfs \"\(path)\": no such file or directory"
        case .notNamespace(let path): return "unknown FS magic on \"\(path)\""
        case .system(let operation, let errno): return "\(operation): \(errno)"
        }
    }
}

/// A handle on a network namespace (an open nsfs file).
///
/// The only way in is `withEntered`, which runs its body on a dedicated thread that exits
/// afterwards, so no thread that other code uses ever changes namespace (see ARCHITECTURE.md).
public final class NetworkNamespace: @unchecked Sendable {
    // @unchecked: the only state is an immutable fd and path.
    public let path: String
    private let fd: Int32

    /// The nsfs file descriptor, for `IFLA_NET_NS_FD` (create or move a link into this netns).
    /// Valid while this object lives.
    public var descriptor: Int32 { fd }

    /// Which namespace this is (`<dev>:<inode>` of its nsfs file): the same for every path to
    /// one namespace, different for a namespace made later at the same path.
    public var identity: String? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return "\(info.st_dev):\(info.st_ino)"
    }

    private static let nsfsMagic = 0x6e73_6673
    private static let procMagic = 0x9fa0

    /// Opens the namespace at `path` (`/run/netns/NAME`, `/proc/PID/ns/net`, ...).
    public init(path: String) throws(NamespaceError) {
        // Namespace files are regular files (nsfs): anything else is refused before it is
        // opened, since opening a FIFO blocks and opening a device node has side effects.
        var info = stat()
        if stat(path, &info) == 0, (info.st_mode & S_IFMT) != S_IFREG { throw .notNamespace(path: path) }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else {
            if errno == ENOENT || errno == ENOTDIR { throw .notExist(path: path) }
            throw .system(operation: "open \(path)", errno: .current)
        }
        var magic = 0
        guard CSystemShim_fstatfs_type(fd, &magic) == 0 else {
            let error = Errno.current
            close(fd)
            throw .system(operation: "fstatfs \(path)", errno: error)
        }
        guard magic == NetworkNamespace.nsfsMagic || magic == NetworkNamespace.procMagic else {
            close(fd)
            throw .notNamespace(path: path)
        }
        self.fd = fd
        self.path = path
    }

    /// The namespace of the calling thread.
    public static func current() throws(NamespaceError) -> NetworkNamespace {
        try NetworkNamespace(path: "/proc/thread-self/ns/net")
    }

    deinit { close(fd) }

    /// Runs `body` synchronously on a fresh thread that has entered this namespace.
    ///
    /// Use it only to create sockets or open `/proc/sys` files there; then work with them
    /// from the calling thread. The helper thread exits when `body` returns.
    public func withEntered<T>(_ body: () throws -> T) throws -> T {
        try withoutActuallyEscaping(body) { escapable in
            let job = EnteredJob(namespace: self, body: escapable)
            try job.start()
            return try job.join(as: T.self)
        }
    }

    /// Starts `body` on a fresh thread that has entered this namespace and returns at once:
    /// the caller goes on with other work (on the host) while the thread runs, and
    /// ``NamespaceThread/join(as:)`` collects the result.
    public func start(_ body: @escaping () throws -> Any) throws -> NamespaceThread {
        let job = EnteredJob(namespace: self, body: body)
        try job.start()
        return NamespaceThread(job: job)
    }
}

/// A body running on its own thread inside a namespace (``NetworkNamespace/start(_:)``).
/// It is joined at the latest when this object goes, so the thread never outlives the
/// namespace descriptor it enters through.
public final class NamespaceThread {
    private let job: EnteredJob

    fileprivate init(job: EnteredJob) { self.job = job }

    deinit { job.waitForExit() }

    /// Waits for the thread (once) and returns what its body returned, or throws what it
    /// threw; a failed `setns` is a `NamespaceError`.
    public func join<T>(as type: T.Type) throws -> T { try job.join(as: type) }
}

/// The state shared with the helper thread. The caller blocks in `pthread_join` before it
/// reads the outcome, so the two threads never touch it at the same time.
private final class EnteredJob: @unchecked Sendable {
    /// Keeps the descriptor `setns` uses open until the thread is joined.
    let namespace: NetworkNamespace
    let body: () throws -> Any
    var outcome: Result<Any, any Error>?
    var setnsErrno = Errno(rawValue: 0)
    private var thread: pthread_t?

    init<T>(namespace: NetworkNamespace, body: @escaping () throws -> T) {
        self.namespace = namespace
        self.body = { try body() }
    }

    func start() throws(NamespaceError) {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(
            &thread, nil,
            { raw in
                guard let raw else { return nil }
                let job = Unmanaged<EnteredJob>.fromOpaque(raw).takeRetainedValue()
                job.enterAndRun()
                return nil
            }, context)
        guard rc == 0 else {
            Unmanaged<EnteredJob>.fromOpaque(context).release()
            throw .system(operation: "pthread_create", errno: Errno(rawValue: rc))
        }
        self.thread = thread
    }

    /// Joins the thread if it still runs; later calls return at once.
    func waitForExit() {
        guard let thread else { return }
        pthread_join(thread, nil)
        self.thread = nil
    }

    func join<T>(as type: T.Type) throws -> T {
        waitForExit()
        switch outcome {
        case .success(let value)?:
            guard let value = value as? T else {
                throw NamespaceError.system(operation: "result in \(namespace.path)", errno: .invalidArgument)
            }
            return value
        case .failure(let error)?: throw error
        case nil: throw NamespaceError.system(operation: "setns \(namespace.path)", errno: setnsErrno)
        }
    }

    private func enterAndRun() {
        guard CSystemShim_setns_net(namespace.descriptor) == 0 else {
            setnsErrno = .current
            return
        }
        do { outcome = .success(try body()) } catch { outcome = .failure(error) }
    }
}
