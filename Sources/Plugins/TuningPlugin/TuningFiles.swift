#if canImport(Glibc)
import Glibc
#endif
import CNISkeleton

/// File access for tuning: backups under the data dir and sysctl values.
enum TuningFiles {
    static func read(_ path: String) throws(CNIError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw CNIError(.internalError, "open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n > 0 { out += chunk[0..<n]; continue }
            if n == 0 { return out }
            if errno != EINTR { throw CNIError(.internalError, "read \(path): \(String(cString: strerror(errno)))") }
        }
    }

    /// Writes the whole value (for /proc/sys files: one write, as the kernel expects).
    static func write(_ path: String, _ bytes: [UInt8], create: Bool = false) throws(CNIError) {
        let flags = O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0)
        let fd = open(path, flags, 0o600)
        guard fd >= 0 else { throw CNIError(.internalError, "open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw CNIError(.internalError, "write \(path): \(String(cString: strerror(errno)))") }
    }

    static func makeDirectory(_ path: String) throws(CNIError) {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw CNIError(.internalError, "failed to create backup directory: \(String(cString: strerror(errno)))")
            }
        }
    }

    static func remove(_ path: String) { unlink(path) }
}
