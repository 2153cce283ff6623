#if canImport(Glibc)
import Glibc
#endif
import CNISkeleton

/// File access for tuning: sysctl values and the allow-list.
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
    static func write(_ path: String, _ bytes: [UInt8]) throws(CNIError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CNIError(.internalError, "open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw CNIError(.internalError, "write \(path): \(String(cString: strerror(errno)))") }
    }

}
