import CNISkeleton
import CNISystem
import Glibc

/// File access for tuning: sysctl values and the allow-list.
enum TuningFiles {
    static func read(_ path: String) throws(CNIError) -> [UInt8]? {
        do { return try FileIO.readFile(path, limit: 1 << 20) } catch { throw CNIError(.internalError, "\(error)") }
    }

    /// Writes the whole value (for /proc/sys files: one write, as the kernel expects).
    static func write(_ path: String, _ bytes: [UInt8]) throws(CNIError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CNIError(.internalError, "\(SystemError("open", path))") }
        defer { close(fd) }
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw CNIError(.internalError, "\(SystemError("write", path))") }
    }
}
