#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A directory of plugin state opened once, with every file inside it reached relative to
/// that descriptor and never through a symlink: a link planted in place of the directory
/// or of any file in it is refused instead of written through. Files are created root-only.
public final class StateDirectory {
    /// A failed system call, with its errno captured before any cleanup ran.
    public struct Failure: Error, CustomStringConvertible {
        public let operation: String
        public let path: String
        public let code: Int32
        public var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
    }

    public let path: String
    private let fd: Int32

    /// Opens `path`, creating it and its missing parents (mode 0700) first when `create` is
    /// set. Parents may be symlinks (an operator's choice); the last component may not.
    public init(_ path: String, create: Bool = true) throws(Failure) {
        self.path = path
        if create { try StateDirectory.makeParents(path) }
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(operation: "open directory", path: path, code: errno) }
        self.fd = fd
    }

    deinit { close(fd) }

    private static func makeParents(_ path: String) throws(Failure) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST { throw Failure(operation: "mkdir", path: prefix, code: errno) }
        }
    }

    private func fail(_ operation: String, _ name: String) -> Failure {
        Failure(operation: operation, path: path + "/" + name, code: errno)
    }

    /// A subdirectory, created (0700) when missing; a symlink in its place is refused.
    public func subdirectory(_ name: String) throws(Failure) -> StateDirectory {
        if mkdirat(fd, name, 0o700) != 0 && errno != EEXIST { throw fail("mkdir", name) }
        let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard child >= 0 else { throw fail("open directory", name) }
        return StateDirectory(path: path + "/" + name, fd: child)
    }

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// Opens `name` for reading or writing without following a symlink.
    public func open(_ name: String, flags: Int32, mode: mode_t = 0o600) throws(Failure) -> Int32 {
        let file = openat(fd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode)
        guard file >= 0 else { throw fail("open", name) }
        return file
    }

    /// The whole file, or nil when it does not exist.
    public func read(_ name: String) throws(Failure) -> [UInt8]? {
        let file: Int32
        do { file = try open(name, flags: O_RDONLY) } catch {
            if error.code == ENOENT { return nil }
            throw error
        }
        defer { close(file) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(file, $0.baseAddress, $0.count) }
            if n > 0 { out += chunk[0..<n]; continue }
            if n == 0 { return out }
            if errno != EINTR { throw fail("read", name) }
        }
    }

    /// Writes `bytes` to a new file `name` (`O_EXCL`: an existing file or link fails).
    public func create(_ name: String, _ bytes: [UInt8]) throws(Failure) {
        let file = try open(name, flags: O_WRONLY | O_CREAT | O_EXCL)
        if let failure = StateDirectory.writeAll(file, bytes, name) ?? (close(file) == 0 ? nil : fail("close", name)) {
            unlinkat(fd, name, 0)
            throw failure
        }
    }

    /// Replaces `name` atomically: a new file `temporary` beside it, renamed over it (which
    /// replaces a planted link itself, never its target).
    public func replace(_ name: String, _ bytes: [UInt8], temporary: String) throws(Failure) {
        unlinkat(fd, temporary, 0)
        try create(temporary, bytes)
        guard renameat(fd, temporary, fd, name) == 0 else {
            let failure = fail("rename", name)
            unlinkat(fd, temporary, 0)
            throw failure
        }
    }

    /// Appends to `name`, creating it when missing; a symlink is refused.
    public func append(_ name: String, _ bytes: [UInt8]) throws(Failure) {
        let file = try open(name, flags: O_WRONLY | O_CREAT | O_APPEND)
        defer { close(file) }
        if let failure = StateDirectory.writeAll(file, bytes, name) { throw failure }
    }

    /// Removes `name`; a missing file is fine.
    public func remove(_ name: String) throws(Failure) {
        if unlinkat(fd, name, 0) != 0 && errno != ENOENT { throw fail("remove", name) }
    }

    /// Hard-links `name` (in this directory) to `target` in `directory`; false when `target`
    /// exists. `link` creates the name atomically, with its content already complete.
    public func link(_ name: String, to target: String, in directory: StateDirectory) throws(Failure) -> Bool {
        guard linkat(fd, name, directory.fd, target, 0) == 0 else {
            if errno == EEXIST { return false }
            throw directory.fail("link", target)
        }
        return true
    }

    /// The names in the directory, without `.` and `..`.
    public func list() throws(Failure) -> [String] {
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else {
            let failure = fail("opendir", ".")
            if copy >= 0 { close(copy) }
            throw failure
        }
        defer { closedir(dir) }
        rewinddir(dir)
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// `stat` of the directory itself.
    public func status() -> stat? {
        var info = stat()
        return fstat(fd, &info) == 0 ? info : nil
    }

    /// Takes an exclusive `flock` on `name` (created 0600 when missing) and returns its
    /// descriptor; closing it releases the lock.
    public func lock(_ name: String) throws(Failure) -> Int32 {
        let file = try open(name, flags: O_RDWR | O_CREAT)
        while flock(file, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let failure = fail("flock", name)
            close(file)
            throw failure
        }
        return file
    }

    private static func writeAll(_ file: Int32, _ bytes: [UInt8], _ name: String) -> Failure? {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(file, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return Failure(operation: "write", path: name, code: errno)
            }
            offset += n
        }
        return nil
    }
}
