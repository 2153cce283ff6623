import Glibc
import CNISystem

/// What a plugin process reads and writes. Tests inject an in-memory one.
public protocol PluginEnvironment {
    /// An environment variable; unset and empty are treated alike by the caller.
    func variable(_ name: String) -> String?
    /// All of stdin.
    func readStdin() throws(CNIError) -> [UInt8]
    func writeStdout(_ text: String)
    func writeStderr(_ text: String)
    /// True when `path` names the network namespace this process runs in.
    func isOwnNetworkNamespace(_ path: String) -> Bool
}

/// The real process: `getenv`, fds 0/1/2 and `/proc/self/ns/net`.
public struct ProcessEnvironment: PluginEnvironment {
    public init() {}

    public func variable(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }

    public func readStdin() throws(CNIError) -> [UInt8] {
        do {
            // Past the limit the rest is read and dropped, so the runtime's write completes.
            let read = try FileIO.readAll(0, limit: ConfigLimits.maximumStdinBytes)
            if read.total > ConfigLimits.maximumStdinBytes { throw ConfigLimits.tooLarge(read.total) }
            return read.bytes
        } catch let error as Errno {
            // A closed stdin reads as empty; any other failure is an I/O error.
            if error == Errno(rawValue: EBADF) { return [] }
            throw CNIError(.ioFailure, "error reading from stdin: \(error)")
        } catch {
            throw error as? CNIError ?? CNIError(.ioFailure, "error reading from stdin: \(error)")
        }
    }

    public func writeStdout(_ text: String) { writeAll(1, text) }
    public func writeStderr(_ text: String) { writeAll(2, text) }

    private func writeAll(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue } else { return } }
            bytes = bytes.dropFirst(n)
        }
    }

    public func isOwnNetworkNamespace(_ path: String) -> Bool {
        guard !path.isEmpty else { return false }
        var theirs = stat(), ours = stat()
        // A path that cannot be opened passes, as in Go: DEL with a vanished netns must work.
        guard stat(path, &theirs) == 0, stat("/proc/self/ns/net", &ours) == 0 else { return false }
        return theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino
    }
}

/// Bounds on what a plugin accepts, so hostile input cannot exhaust the node's memory.
public enum ConfigLimits {
    /// The largest network config read from stdin: 16 MiB. Real configs are kilobytes (1,000
    /// port mappings take about 60 KB); parsing costs a few times the input in memory.
    public static let maximumStdinBytes = 16 << 20

    static func tooLarge(_ size: Int) -> CNIError {
        CNIError(
            .decodingFailure,
            "network config on stdin is \(size) bytes, more than the limit of \(maximumStdinBytes) bytes (16 MiB)")
    }
}
