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
        if key.hasPrefix("/proc/sys/") { return key }
        let slashForm = key.contains("/") ? key : key.replacingDots()
        return "/proc/sys/" + slashForm
    }

    /// The current value, without the trailing newline.
    public static func read(_ key: String) throws(SystemError) -> String {
        let file = try checkedPath(key)
        let fd = open(file, O_RDONLY | O_CLOEXEC)
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
        guard !file.split(separator: "/").contains("..") else {
            throw SystemError("open", file, errno: .invalidArgument)
        }
        return file
    }

    /// Writes a value.
    public static func write(_ key: String, _ value: String) throws(SystemError) {
        let file = try checkedPath(key)
        FaultPoint.step()
        let fd = open(file, O_WRONLY | O_CLOEXEC)
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

private extension String {
    func replacingDots() -> String {
        String(map { $0 == "." ? "/" : $0 })
    }
}
