import CNISystem
import Glibc

/// Puts files into a directory that runtimes exec from while it changes: every file is
/// written under a temporary name in that directory, fsynced, then renamed over the old one,
/// so an exec at any moment finds a whole file, old or new, never a partial one.
struct AtomicInstall {
    let directory: String

    /// Creates the directory (and parents, 0755) when missing and checks it is writable.
    func prepare() throws(SystemError) {
        try FileIO.makeDirectories(directory, mode: 0o755)
        guard access(directory, W_OK) == 0 else { throw SystemError("cannot write to", directory) }
    }

    /// Installs `bytes` as `name` (mode `mode`).
    func write(_ name: String, _ bytes: [UInt8], mode: mode_t) throws(SystemError) {
        try FileIO.replaceFile("\(directory)/\(name)", bytes, mode: mode, sync: true)
    }

    /// Makes `name` another hard link of the already installed `source` (same inode, so the
    /// content is already on disk), replacing whatever `name` was.
    func link(_ name: String, to source: String) throws(SystemError) {
        let temp = "\(directory)/.\(name).\(getpid()).tmp"
        unlink(temp)
        guard Glibc.link("\(directory)/\(source)", temp) == 0 else { throw SystemError("link", temp) }
        guard rename(temp, "\(directory)/\(name)") == 0 else {
            let failure = SystemError("rename", "\(directory)/\(name)")
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
    static func ownExecutable() throws(SystemError) -> [UInt8] {
        guard let bytes = try FileIO.readFile("/proc/self/exe"), !bytes.isEmpty else {
            throw SystemError("read", "/proc/self/exe", errno: Errno(rawValue: ENOENT))
        }
        return bytes
    }
}
