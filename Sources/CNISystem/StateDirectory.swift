import Glibc

/// A directory of plugin state opened once, with every file inside it reached relative to
/// that descriptor and never through a symlink: a link planted in place of the directory
/// or of any file in it is refused instead of written through. Files are created root-only.
public final class StateDirectory {
    public typealias Failure = SystemError

    public let path: String
    private let fd: Int32

    /// Opens `path`, creating it and its missing parents (mode 0700) first when `create` is
    /// set. Parents may be symlinks (an operator's choice); the last component may not.
    public init(_ path: String, create: Bool = true) throws(Failure) {
        self.path = path
        if create { try FileIO.makeDirectories(path, mode: 0o700) }
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw Failure("open directory", path) }
        self.fd = fd
    }

    deinit { close(fd) }

    private func fail(_ operation: String, _ name: String) -> Failure {
        Failure(operation, path + "/" + name)
    }

    /// A subdirectory, created (0700) when missing; a symlink in its place is refused.
    public func subdirectory(_ name: String) throws(Failure) -> StateDirectory {
        if mkdirat(fd, name, 0o700) != 0 && errno != EEXIST { throw fail("mkdir", name) }
        let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard child >= 0 else { throw fail("open directory", name) }
        return StateDirectory(path: path + "/" + name, fd: child)
    }

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// Opens `name` for reading or writing without following a symlink. Only a regular file
    /// is accepted (`O_NONBLOCK`, so a planted FIFO cannot block the open), and one opened
    /// for writing must have no other hard link, so a planted link to a file elsewhere is
    /// never written through.
    public func open(_ name: String, flags: Int32, mode: mode_t = 0o600) throws(Failure) -> Int32 {
        let file = openat(fd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, mode)
        guard file >= 0 else { throw fail("open", name) }
        var info = stat()
        let writing = flags & O_ACCMODE != O_RDONLY
        guard fstat(file, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, !writing || info.st_nlink == 1 else {
            close(file)
            throw Failure(
                "open (not a regular file with a single link)", path + "/" + name, errno: Errno(rawValue: EPERM))
        }
        // O_NONBLOCK stays: it has no effect on a regular file.
        return file
    }

    /// The whole file, or nil when it does not exist.
    public func read(_ name: String) throws(Failure) -> [UInt8]? {
        let file: Int32
        do { file = try open(name, flags: O_RDONLY) } catch {
            if error.errno == .noSuchFileOrDirectory { return nil }
            throw error
        }
        defer { close(file) }
        do { return try FileIO.readAll(file).bytes } catch { throw Failure("read", path + "/" + name, errno: error) }
    }

    /// Writes `bytes` to a new file `name` (`O_EXCL`: an existing file or link fails).
    public func create(_ name: String, _ bytes: [UInt8]) throws(Failure) {
        FaultPoint.step()
        let file = try open(name, flags: O_WRONLY | O_CREAT | O_EXCL)
        var failure: Failure? = nil
        do { try FileIO.writeAll(file, bytes) } catch { failure = Failure("write", path + "/" + name, errno: error) }
        if close(file) != 0, failure == nil { failure = fail("close", name) }
        if let failure {
            unlinkat(fd, name, 0)
            throw failure
        }
    }

    /// Replaces `name` atomically: a new file `temporary` beside it, renamed over it (which
    /// replaces a planted link itself, never its target).
    /// The temporary is made in `scratch` (default: here), which must be on the same file
    /// system, so that this directory never holds temporaries.
    public func replace(_ name: String, _ bytes: [UInt8], temporary: String, in scratch: StateDirectory? = nil)
        throws(Failure)
    {
        FaultPoint.step()
        let from = scratch ?? self
        unlinkat(from.fd, temporary, 0)
        try from.create(temporary, bytes)
        guard renameat(from.fd, temporary, fd, name) == 0 else {
            let failure = fail("rename", name)
            unlinkat(from.fd, temporary, 0)
            throw failure
        }
    }

    /// Rewrites `name` in place, for a hint that only lock holders read: they never see a
    /// partial write, and a crash can leave old, new or mixed bytes, never a missing file. A
    /// rename over the file would be crash-atomic, but ext4 flushes a file renamed over another
    /// (~0.25 ms, on every ADD). When `name` is missing or is not a plain file with one link (a
    /// planted symlink, FIFO or hard link), it is `replace`d instead.
    public func overwrite(_ name: String, _ bytes: [UInt8], temporary: String, in scratch: StateDirectory? = nil)
        throws(Failure)
    {
        if let file = try? open(name, flags: O_WRONLY) {
            FaultPoint.step()
            let written = (try? FileIO.writeAll(file, bytes)) != nil && ftruncate(file, off_t(bytes.count)) == 0
            if close(file) == 0, written { return }
        }
        try replace(name, bytes, temporary: temporary, in: scratch)
    }

    /// Creates `name` with `bytes` unless a regular file of that name exists, atomically
    /// (written under `temporary`, then linked or renamed into place); false when a readable
    /// regular file was already there, which is left as it is. Anything else in its place (a
    /// planted symlink, FIFO or hard link) is replaced.
    public func createIfMissing(_ name: String, _ bytes: [UInt8], temporary: String) throws(Failure) -> Bool {
        FaultPoint.step()
        unlinkat(fd, temporary, 0)
        try create(temporary, bytes)
        defer { unlinkat(fd, temporary, 0) }
        if try link(temporary, to: name, in: self) { return true }
        if (try? read(name)) != nil { return false }
        guard renameat(fd, temporary, fd, name) == 0 else { throw fail("rename", name) }
        return true
    }

    /// Appends to `name`, creating it when missing; a symlink is refused.
    public func append(_ name: String, _ bytes: [UInt8]) throws(Failure) {
        FaultPoint.step()
        let file = try open(name, flags: O_WRONLY | O_CREAT | O_APPEND)
        defer { close(file) }
        do { try FileIO.writeAll(file, bytes) } catch { throw Failure("write", path + "/" + name, errno: error) }
    }

    /// Removes `name`; a missing file is fine.
    public func remove(_ name: String) throws(Failure) {
        FaultPoint.step()
        if unlinkat(fd, name, 0) != 0 && errno != ENOENT { throw fail("remove", name) }
    }

    /// Hard-links `name` (in this directory) to `target` in `directory`; false when `target`
    /// exists. `link` creates the name atomically, with its content already complete.
    public func link(_ name: String, to target: String, in directory: StateDirectory) throws(Failure) -> Bool {
        FaultPoint.step()
        guard linkat(fd, name, directory.fd, target, 0) == 0 else {
            if errno == EEXIST { return false }
            throw directory.fail("link", target)
        }
        return true
    }

    /// The names in the directory, without `.` and `..`.
    public func list() throws(Failure) -> [String] {
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else {
            let failure = fail("opendir", ".")
            if copy >= 0 { close(copy) }
            throw failure
        }
        defer { closedir(dir) }
        rewinddir(dir)
        return DirectoryEntries.names(dir)
    }

    /// Removes the temporaries here (`<prefix><pid>...`) whose writer is gone: a process
    /// killed between writing one and renaming or linking it into place leaves it behind.
    /// One whose process still runs (or is this one) is left to it.
    public func removeStaleTemporaries(prefixes: [String]) {
        guard let names = try? list() else { return }
        for name in names where Self.isStaleTemporary(name, prefixes: prefixes) { try? remove(name) }
    }

    /// Whether `name` is a temporary (`<prefix><pid>...`) of a process that is gone, or of
    /// this one (which has nothing in flight when it asks).
    public static func isStaleTemporary(_ name: String, prefixes: [String]) -> Bool {
        guard let prefix = prefixes.first(where: { name.hasPrefix($0) }) else { return false }
        let pidText = name.dropFirst(prefix.count).prefix { $0 != "." }
        guard let pid = Int32(pidText), pid > 0 else { return false }
        return pid == getpid() || (kill(pid, 0) != 0 && errno == ESRCH)
    }

    /// `stat` of the directory itself.
    public func status() -> stat? {
        var info = stat()
        return fstat(fd, &info) == 0 ? info : nil
    }

    /// Takes an exclusive `flock` on `name` (created 0600 when missing) and returns its
    /// descriptor; closing it releases the lock.
    public func lock(_ name: String) throws(Failure) -> Int32 {
        let file = try open(name, flags: O_RDWR | O_CREAT)
        while flock(file, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let failure = fail("flock", name)
            close(file)
            throw failure
        }
        return file
    }
}
