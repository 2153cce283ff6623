#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Puts files into a directory that runtimes exec from while it changes: every file is
/// written under a temporary name in that directory, fsynced, then renamed over the old one,
/// so an exec at any moment finds a whole file, old or new, never a partial one.
struct AtomicInstall {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ operation: String, _ path: String, _ code: Int32 = errno) {
            description = "\(operation) \(path): \(String(cString: strerror(code)))"
        }
    }

    let directory: String

    /// Creates the directory (and parents, 0755) when missing and checks it is writable.
    func prepare() throws(Failure) {
        var prefix = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { throw Failure("mkdir", prefix) }
        }
        guard access(directory, W_OK) == 0 else { throw Failure("cannot write to", directory) }
    }

    private func temporary(_ name: String) -> String { "\(directory)/.\(name).\(getpid()).tmp" }

    /// Installs `bytes` as `name` (mode `mode`).
    func write(_ name: String, _ bytes: [UInt8], mode: mode_t) throws(Failure) {
        let temp = temporary(name)
        unlink(temp)
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw Failure("create", temp) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                let failure = Failure("write", temp)
                close(fd)
                unlink(temp)
                throw failure
            }
            offset += n
        }
        // fchmod: the umask must not take the exec bits away.
        guard fchmod(fd, mode) == 0, fsync(fd) == 0 else {
            let failure = Failure("fsync", temp)
            close(fd)
            unlink(temp)
            throw failure
        }
        close(fd)
        try rename(temp, to: name)
    }

    /// Makes `name` another hard link of the already installed `source` (same inode, so the
    /// content is already on disk), replacing whatever `name` was.
    func link(_ name: String, to source: String) throws(Failure) {
        let temp = temporary(name)
        unlink(temp)
        guard Glibc.link("\(directory)/\(source)", temp) == 0 else { throw Failure("link", temp) }
        try rename(temp, to: name)
    }

    private func rename(_ temp: String, to name: String) throws(Failure) {
        guard Glibc.rename(temp, "\(directory)/\(name)") == 0 else {
            let failure = Failure("rename", "\(directory)/\(name)")
            unlink(temp)
            throw failure
        }
    }

    /// Makes the renames durable.
    func syncDirectory() {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// The running executable's own bytes.
    static func ownExecutable() throws(Failure) -> [UInt8] {
        let path = "/proc/self/exe"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure("open", path) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n > 0 { out += chunk[0..<n]; continue }
            if n == 0 { return out }
            if errno != EINTR { throw Failure("read", path) }
        }
    }
}
