import Glibc
import CNISystem

/// Reads and writes `/proc/sys` values without running `sysctl`.
///
/// `/proc/sys/net` belongs to the network namespace of the thread that opens the file, so for
/// a container run these inside `NetworkNamespace.withEntered`.
public enum Sysctl {
    /// The file for a key; dotted names (`net.ipv4.ip_forward`) become paths unless the key
    /// already uses `/`, so interface names with dots (VLANs) work with the slash form.
    public static func path(_ key: String) -> String {
        let slashForm = key.contains("/") ? key : key.replacingDots()
        return "/proc/sys/" + slashForm
    }

    /// The current value, without the trailing newline.
    public static func read(_ key: String) throws(Errno) -> String {
        let fd = open(path(key), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Errno.current }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n >= 0 else { throw Errno.current }
        var text = String(decoding: buffer[0..<n], as: UTF8.self)
        while text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    /// Writes a value.
    public static func write(_ key: String, _ value: String) throws(Errno) {
        let fd = open(path(key), O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Errno.current }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw n < 0 ? Errno.current : Errno.invalidArgument }
    }

    /// Writes a value only when it differs, as the reference does for forwarding switches.
    /// Returns true when it wrote.
    @discardableResult
    public static func ensure(_ key: String, _ value: String) throws(Errno) -> Bool {
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
