import CNISkeleton
import CNISystem

/// The allow-list file (sysctls go through the kernel context).
enum TuningFiles {
    static func read(_ path: String) throws(CNIError) -> [UInt8]? {
        do { return try FileIO.readFile(path, limit: 1 << 20) } catch { throw CNIError(.internalError, "\(error)") }
    }

}
