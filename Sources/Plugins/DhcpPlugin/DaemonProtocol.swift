import Glibc
import CNISkeleton
import CNISystem

/// What passes over the daemon socket: one JSON request, one JSON response, then the
/// connection closes. Request: `{"command", "containerID", "netns", "ifname", "args",
/// "config"}`; response: `{"result": <1.0.0 result>}`, `{}` or `{"error": {"code", "msg"}}`.
/// Both halves are swift-cni (the Go pair speaks gob-encoded net/rpc instead).
enum DaemonProtocol {
    /// A stream socket connected to `path`; nil when no daemon listens there and
    /// `absentIsFine` (the socket file is missing or nobody accepts on it).
    static func connect(_ path: String, absentIsFine: Bool = false) throws(CNIError) -> Int32? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0, var address = unixAddress(path) else {
            throw CNIError(.internalError, "error dialing DHCP daemon: invalid socket path \(path)")
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if rc < 0 {
            let error = errno
            close(fd)
            if absentIsFine && (error == ENOENT || error == ECONNREFUSED) { return nil }
            throw CNIError(
                .internalError, "error dialing DHCP daemon: dial unix \(path): \(String(cString: strerror(error)))")
        }
        return fd
    }

    static func unixAddress(_ path: String) -> sockaddr_un? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in bytes.enumerated() { raw[i] = byte }
        }
        return address
    }

    /// A daemon killed mid-request, or a plugin that gave up, is a failed write, never a SIGPIPE.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool { (try? FileIO.sendAll(fd, bytes)) != nil }

    /// Reads until end of stream (bounded at 1 MiB).
    static func readAll(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while out.count < 1 << 20 {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            out += buffer[..<n]
        }
        return out
    }

    /// Plugin side: sends one request and returns the daemon's response object.
    static func call(_ path: String, _ request: JSONValue, absentIsFine: Bool = false) throws(CNIError) -> JSONObject {
        guard let fd = try connect(path, absentIsFine: absentIsFine) else { return JSONObject() }
        defer { close(fd) }
        guard writeAll(fd, Array(JSONWriter.compact(request).utf8)) else {
            throw CNIError(.internalError, "error calling DHCP daemon: write failed")
        }
        shutdown(fd, Int32(SHUT_WR))
        let reply = readAll(fd)
        guard let object = (try? JSONParser.parse(reply))?.objectValue else {
            // The Go daemon speaks net/rpc over HTTP and answers a bare request with an HTTP error.
            if reply.starts(with: Array("HTTP/".utf8)) {
                throw CNIError(
                    .internalError,
                    "error calling DHCP daemon: the daemon at \(path) is not swift-cni's (the Go reference daemon speaks another protocol); run swift-cni's `dhcp daemon` there"
                )
            }
            throw CNIError(.internalError, "error calling DHCP daemon: malformed reply")
        }
        if let error = object["error"]?.objectValue {
            let code =
                (error["code"].flatMap { if case .number(let n) = $0 { return n.int } else { return nil } }) ?? 999
            throw CNIError(CNIError.Code(rawValue: code), error["msg"]?.stringValue ?? "DHCP daemon error")
        }
        return object
    }
}
