import Glibc

/// Path checks for host-local; file I/O itself goes through CNISystem.
enum FileSystem {
    /// True when `path` exists and is not a directory.
    static func existsAsNonDirectory(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        return (info.st_mode & S_IFMT) != S_IFDIR
    }
}
