import Glibc

/// Whole-file reads and writes over raw descriptors, retrying `EINTR`, for everything that
/// touches files: host-local's store, tuning, the installer, the dhcp daemon, stdin.
public enum FileIO {
    /// Reads `fd` to its end. With `limit`, stops keeping bytes past it but still reads on (so
    /// a writer on the other end of a pipe completes), and returns the total seen.
    public static func readAll(_ fd: Int32, limit: Int = .max) throws(Errno) -> (bytes: [UInt8], total: Int) {
        // Never zeroed: most reads are a few bytes of /proc or state, and zeroing 64 KB (and
        // touching fresh heap pages) for each cost more than the read.
        try withUnsafeTemporaryAllocation(byteCount: 65536, alignment: 1) { (chunk) throws(Errno) in
            var out: [UInt8] = []
            var total = 0
            while true {
                let n = Glibc.read(fd, chunk.baseAddress, chunk.count)
                if n > 0 {
                    total += n
                    if out.count < limit {
                        out += UnsafeRawBufferPointer(rebasing: chunk[0..<min(n, limit - out.count)])
                    }
                    continue
                }
                if n == 0 { return (out, total) }
                let error = Errno.current
                if error != .interrupted { throw error }
            }
        }
    }

    /// The whole file at `path`, or nil when it does not exist. `noFollow` refuses a symlink.
    public static func readFile(_ path: String, limit: Int = .max, noFollow: Bool = false) throws(SystemError)
        -> [UInt8]?
    {
        let fd = open(path, O_RDONLY | O_CLOEXEC | (noFollow ? O_NOFOLLOW : 0))
        guard fd >= 0 else {
            let error = SystemError("open", path)
            if error.errno == .noSuchFileOrDirectory { return nil }
            throw error
        }
        defer { close(fd) }
        let read: (bytes: [UInt8], total: Int)
        do { read = try readAll(fd, limit: limit) } catch { throw SystemError("read", path, errno: error) }
        guard read.total <= limit else { throw SystemError("read", path, errno: Errno(rawValue: EFBIG)) }
        return read.bytes
    }

    /// Writes all of `bytes`; a short write is continued, `EINTR` retried.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(Errno) {
        try writeAll(bytes) { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    /// Sends all of `bytes` on a connected socket as ``writeAll(_:_:)`` writes them, with
    /// `MSG_NOSIGNAL`: a peer that has gone is an `EPIPE` to report, never a SIGPIPE that kills.
    public static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws(Errno) {
        try writeAll(bytes) { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    private static func writeAll(_ bytes: [UInt8], _ once: (UnsafeRawBufferPointer) -> Int) throws(Errno) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes(once)
            if n < 0 {
                let error = Errno.current
                if error == .interrupted { continue }
                throw error
            }
            offset += n
        }
    }

    /// Replaces `path` atomically: a new temporary beside it (`O_EXCL | O_NOFOLLOW`, so a
    /// planted link is never written through), written, given `mode`, fsynced when `sync`,
    /// then renamed over `path` (which replaces a link itself, never its target).
    public static func replaceFile(_ path: String, _ bytes: [UInt8], mode: mode_t, sync: Bool = false)
        throws(SystemError)
    {
        FaultPoint.step()
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let temporary = "\(directory.isEmpty ? "" : directory)/.\(name).\(getpid()).tmp"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError("create", temporary) }
        var failure: SystemError? = nil
        do { try writeAll(fd, bytes) } catch { failure = SystemError("write", temporary, errno: error) }
        // fchmod: the umask must not take bits (the installer's exec bits) away.
        if failure == nil, fchmod(fd, mode) != 0 { failure = SystemError("chmod", temporary) }
        if failure == nil, sync, fsync(fd) != 0 { failure = SystemError("fsync", temporary) }
        if close(fd) != 0, failure == nil { failure = SystemError("close", temporary) }
        if failure == nil, rename(temporary, path) != 0 { failure = SystemError("rename", path) }
        if let failure {
            unlink(temporary)
            throw failure
        }
    }

    /// `mkdir -p` with `mode` for the directories it creates.
    public static func makeDirectories(_ path: String, mode: mode_t) throws(SystemError) {
        // The directory is nearly always there already: one call, not one per component.
        if mkdir(path, mode) == 0 || errno == EEXIST { return }
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix = prefix + "/" + String(component)
            if mkdir(prefix, mode) != 0 {
                let error = SystemError("mkdir", prefix)
                if error.errno != .fileExists { throw error }
            }
        }
    }
}
