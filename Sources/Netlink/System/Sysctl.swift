import Glibc
import CNISystem

/// Reads and writes `/proc/sys` values without running `sysctl`.
///
/// `/proc/sys/net` belongs to the network namespace of the thread that opens the file, so for
/// a container run these inside `NetworkNamespace.withEntered`.
public enum Sysctl {
    /// The file for a key; dotted names (`net.ipv4.ip_forward`) become paths unless the key
    /// already uses `/`, so interface names with dots (VLANs) work with the slash form. A
    /// full `/proc/sys/...` path is taken as it is.
    public static func path(_ key: String) -> String {
        // Byte-wise: String's generic splitting and joining cost more than the file's open.
        if key.utf8.starts(with: procSys) { return key }
        let slash = UInt8(ascii: "/")
        if key.utf8.contains(slash) { return "/proc/sys/" + key }
        return "/proc/sys/" + String(decoding: key.utf8.map { $0 == UInt8(ascii: ".") ? slash : $0 }, as: UTF8.self)
    }

    private static let procSys = Array("/proc/sys/".utf8)

    /// The current value, without the trailing newline. `directories` (of the calling
    /// thread's namespace) saves the lookup of `/proc/sys/net/ipv4` and `ipv6`.
    public static func read(_ key: String, in directories: SysctlDirectories? = nil) throws(SystemError) -> String {
        let file = try checkedPath(key)
        let fd = directories?.open(file, O_RDONLY | O_CLOEXEC) ?? ProcSys.open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open", file) }
        defer { close(fd) }
        let bytes: [UInt8]
        do { bytes = try FileIO.readAll(fd, limit: 1 << 20).bytes } catch {
            throw SystemError("read", file, errno: error)
        }
        var text = String(decoding: bytes, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    /// The file for `key`, refused when a component is `..`: a key names a value under
    /// `/proc/sys`, never a file outside it.
    static func checkedPath(_ key: String) throws(SystemError) -> String {
        let file = path(key)
        guard !SysctlDirectories.components(Array(file.utf8)[...]).contains(where: { $0.elementsEqual("..".utf8) })
        else {
            throw SystemError("open", file, errno: .invalidArgument)
        }
        return file
    }

    /// Writes a value.
    public static func write(_ key: String, _ value: String, in directories: SysctlDirectories? = nil)
        throws(SystemError)
    {
        let file = try checkedPath(key)
        FaultPoint.step()
        let fd = directories?.open(file, O_WRONLY | O_CLOEXEC) ?? ProcSys.open(file, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open", file) }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw SystemError("write", file, errno: n < 0 ? .current : .invalidArgument) }
    }

    /// Writes a value only when it differs, as the reference does for forwarding switches.
    /// Returns true when it wrote.
    @discardableResult
    public static func ensure(_ key: String, _ value: String) throws(SystemError) -> Bool {
        if (try? read(key)) == value { return false }
        try write(key, value)
        return true
    }
}

/// `/proc/sys/net/ipv4` and `/proc/sys/net/ipv6` of one network namespace, opened on first
/// use, so that files under them are opened relative to them.
///
/// Why: each lookup of a family directory costs one pass over the entries of every namespace
/// (see `ProcSys`); below them each namespace has entries of its own. Use an instance made by
/// `init()` only on threads in the namespace it was made in; one made by `init(opening:)`
/// works from any thread.
public final class SysctlDirectories {
    private var net: Int32 = -1
    private var families: [String: Int32] = [:]
    /// Opened once by `init(opening:)`: nothing more is opened later, when the calling thread
    /// may be in another namespace.
    private var complete: Bool

    public init() { complete = false }

    /// Opens the directories of `families` (`"ipv6"`) now, on the calling thread. Files under
    /// them can then be opened from any thread and still belong to this thread's namespace
    /// (a directory found once stays that namespace's); ``covers(_:)`` says which.
    public init(opening families: [String]) {
        complete = false
        for family in families { _ = directory(family) }
        complete = true
    }

    deinit {
        for fd in families.values where fd >= 0 { close(fd) }
        if net >= 0 { close(net) }
    }

    /// `file` opened relative to its family's directory when it is under one, else as a path.
    /// The rest is rebuilt from its non-empty components (`..` never reaches here), so
    /// `net/ipv4//x` opens what the path would and can never become an absolute path, which
    /// `openat` would take from `/` instead of from the directory.
    func open(_ file: String, _ flags: Int32) -> Int32 {
        let bytes = Array(file.utf8)
        if let (family, prefixLength) = SysctlDirectories.family(of: bytes) {
            var rest: [UInt8] = []
            for component in SysctlDirectories.components(bytes[prefixLength...])
            where !component.elementsEqual(".".utf8) {
                if !rest.isEmpty { rest.append(UInt8(ascii: "/")) }
                rest += component
            }
            let directory = self.directory(family)
            if directory >= 0, !rest.isEmpty {
                rest.append(0)
                let fd = rest.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { name in
                        name.baseAddress.map { openat(directory, $0, flags) } ?? -1
                    }
                }
                // Refused under the private procfs (see `ProcSys`): by path, when that resolves
                // in the same namespace; else the caller's fallback (an entering thread) applies.
                guard fd < 0, ProcSys.isRefusal(errno), !complete else { return fd }
            }
        }
        // Opened for another thread's namespace: a path would resolve in the caller's.
        if complete {
            errno = EXDEV
            return -1
        }
        return ProcSys.open(file, flags)
    }

    private static let prefixes = [
        ("ipv4", Array("/proc/sys/net/ipv4/".utf8)), ("ipv6", Array("/proc/sys/net/ipv6/".utf8)),
    ]

    /// The family directory `path` lies under, and the length of its prefix.
    private static func family(of path: [UInt8]) -> (String, Int)? {
        prefixes.first { path.starts(with: $0.1) }.map { ($0.0, $0.1.count) }
    }

    /// The non-empty `/`-separated components of `path`.
    static func components(_ path: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var start = path.startIndex
        for i in path.indices where path[i] == UInt8(ascii: "/") {
            if i > start { out.append(path[start..<i]) }
            start = i + 1
        }
        if start < path.endIndex { out.append(path[start...]) }
        return out
    }

    /// Whether `file` (a `/proc/sys/...` path) lies under a family directory opened here.
    public func covers(_ file: String) -> Bool {
        guard let (family, _) = SysctlDirectories.family(of: Array(file.utf8)) else { return false }
        return (families[family] ?? -1) >= 0
    }

    private func directory(_ family: String) -> Int32 {
        if let fd = families[family] { return fd }
        if complete { return -1 }
        if net < 0 { net = ProcSys.open("/proc/sys/net", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        let fd = net >= 0 ? openat(net, family, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1
        families[family] = fd
        return fd
    }
}
