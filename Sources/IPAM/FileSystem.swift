#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Small file helpers over raw syscalls (no Foundation in plugins).
enum FileSystem {
    struct Failure: Error, CustomStringConvertible {
        let operation: String
        let path: String
        let code: Int32
        var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
        var isNotFound: Bool { code == ENOENT }
        var isExisting: Bool { code == EEXIST }
    }

    static func fail(_ operation: String, _ path: String) -> Failure { Failure(operation: operation, path: path, code: errno) }

    /// The whole file, or nil when it does not exist.
    static func read(_ path: String) throws(Failure) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw fail("open", path)
        }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n > 0 { out += chunk[0..<n]; continue }
            if n == 0 { return out }
            if errno != EINTR { throw fail("read", path) }
        }
    }

    /// Writes `bytes` to a new file created with `O_EXCL`.
    static func create(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(Failure) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw fail("create", path) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let failure = fail("write", path)
                close(fd)
                unlink(path)
                throw failure
            }
            offset += n
        }
        guard close(fd) == 0 else {
            let failure = fail("close", path)
            unlink(path)
            throw failure
        }
    }

    /// Replaces `path` atomically: write a temp file beside it, then rename over it.
    static func replace(_ path: String, _ bytes: [UInt8], temporary: String) throws(Failure) {
        unlink(temporary)
        try create(temporary, bytes)
        guard rename(temporary, path) == 0 else {
            let failure = fail("rename", path)
            unlink(temporary)
            throw failure
        }
    }

    /// The names in a directory, without `.` and `..`.
    static func list(_ path: String) throws(Failure) -> [String] {
        guard let dir = opendir(path) else { throw fail("opendir", path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// `mkdir -p` with `mode` for created directories.
    static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(Failure) {
        var info = stat()
        if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR { return }
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, mode) != 0 && errno != EEXIST { throw fail("mkdir", prefix) }
        }
    }

    /// True when `path` exists and is not a directory.
    static func existsAsNonDirectory(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        return (info.st_mode & S_IFMT) != S_IFDIR
    }
}

extension FileSystem {
    /// Appends to a file (created if missing); best effort, for caches.
    static func append(_ path: String, _ bytes: [UInt8]) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
}
