import Glibc
import CNISkeleton
import CNISystem

/// `dhcp daemon`: holds the leases and renews them. Flags as the reference's:
/// `-pidfile`, `-hostprefix`, `-socketpath`, `-broadcast`, `-timeout`, `-resendmax`,
/// `-resendtimeout`; systemd socket activation (one inherited socket) is honoured. Ours adds
/// `-statedir`, where the leases are saved so that a restarted daemon keeps them.
struct DhcpDaemon: Sendable {
    static let defaultStateDir = "/var/lib/cni/dhcp"

    var pidfile = ""
    var hostPrefix = ""
    var socketPath = DhcpConfig.defaultSocketPath
    var stateDir = DhcpDaemon.defaultStateDir
    var broadcast = false
    var timing = DHCPTiming()

    /// Parses Go `flag`-style arguments (`-name value`, `-name=value`, `--name`).
    init(arguments: [String]) throws(CNIError) {
        var i = 0
        func value(_ name: String, _ inline: String?) throws(CNIError) -> String {
            if let inline { return inline }
            i += 1
            guard i < arguments.count else {
                throw CNIError(.invalidEnvironmentVariables, "flag needs an argument: -\(name)")
            }
            return arguments[i]
        }
        while i < arguments.count {
            var flag = Substring(arguments[i])
            while flag.hasPrefix("-") { flag = flag.dropFirst() }
            let parts = flag.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0]), inline = parts.count == 2 ? String(parts[1]) : nil
            switch name {
            case "pidfile": pidfile = try value(name, inline)
            case "hostprefix": hostPrefix = try value(name, inline)
            case "socketpath": socketPath = try value(name, inline)
            case "statedir": stateDir = try value(name, inline)
            case "broadcast": broadcast = inline.map { ["1", "t", "true", "TRUE", "True"].contains($0) } ?? true
            case "timeout": timing.timeout = try Self.duration(try value(name, inline))
            case "resendmax": timing.resendMax = try Self.duration(try value(name, inline))
            case "resendtimeout": timing.resendTimeout = try Self.duration(try value(name, inline))
            default: throw CNIError(.invalidEnvironmentVariables, "flag provided but not defined: -\(name)")
            }
            i += 1
        }
        if !pidfile.isEmpty && !pidfile.hasPrefix("/") {
            throw CNIError(.invalidEnvironmentVariables, "pidfile must be an absolute path")
        }
        if !stateDir.hasPrefix("/") {
            throw CNIError(.invalidEnvironmentVariables, "statedir must be an absolute path")
        }
    }

    /// A Go duration such as `10s`, `1m30s`, `500ms`, `2h`.
    static func duration(_ text: String) throws(CNIError) -> Double {
        var total = 0.0, number = "", unit = ""
        func flush() -> Bool {
            guard let value = Double(number), let scale = ["h": 3600.0, "m": 60, "s": 1, "ms": 0.001][unit] else {
                return false
            }
            total += value * scale
            number = ""; unit = ""
            return true
        }
        for character in text {
            if character.isNumber || character == "." {
                if !unit.isEmpty { guard flush() else { break } }
                number.append(character)
            } else {
                unit.append(character)
            }
        }
        // Bounded well inside what a timer or a poll timeout converts without trapping.
        guard !number.isEmpty, flush(), total > 0, total < 1e9 else {
            throw CNIError(.invalidEnvironmentVariables, "invalid duration \"\(text)\"")
        }
        return total
    }

    /// Serves until SIGTERM or SIGINT, then removes the socket and the pidfile.
    func run() -> Never {
        let env = ProcessEnvironment()
        // Signals are taken synchronously by one thread, so no handler runs inside a lease thread.
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGTERM, SIGINT] { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)
        let path = hostPrefix + socketPath
        let listener: Int32, activated: Bool
        do { (listener, activated) = try listen(path) } catch {
            env.writeStderr("dhcp daemon: \(error.msg)\n")
            exit(1)
        }
        if !pidfile.isEmpty { _ = try? writeFile(pidfile, "\(getpid())\n") }
        let log: @Sendable (String) -> Void = { ProcessEnvironment().writeStderr("dhcp daemon: \($0)\n") }
        let store = LeaseStore(path: hostPrefix + stateDir)
        let registry = LeaseRegistry(store: store, log: log)
        registry.restore(store.load(timing: timing, broadcast: broadcast, log: log))
        let server = DaemonServer(registry: registry, hostPrefix: hostPrefix, broadcast: broadcast, timing: timing)
        let (pidfile, waitSet) = (self.pidfile, signals)
        Threads.detach {
            var caught: Int32 = 0
            var set = waitSet
            sigwait(&set, &caught)
            if !activated { unlink(path) }
            if !pidfile.isEmpty { unlink(pidfile) }
            exit(0)
        }
        env.writeStderr("dhcp daemon: listening on \(activated ? "the socket systemd passed" : path)\n")
        server.serve(listener)
    }

    /// The listening socket: the systemd-activated one, or a new one at `path` in a 0700 directory.
    private func listen(_ path: String) throws(CNIError) -> (fd: Int32, activated: Bool) {
        if let count = getenv("LISTEN_FDS").map({ String(cString: $0) }), count == "1",
            let pid = getenv("LISTEN_PID").map({ String(cString: $0) }), pid == String(getpid())
        {
            return (3, true)
        }
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !directory.isEmpty { makeDirectories(directory) }
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0, var address = DaemonProtocol.unixAddress(path) else {
            throw CNIError(.internalError, "invalid socket path \(path)")
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0, Glibc.listen(fd, 128) == 0 else {
            throw CNIError(.internalError, "error listening on \(path): \(String(cString: strerror(errno)))")
        }
        return (fd, false)
    }

    private func makeDirectories(_ path: String) { try? FileIO.makeDirectories(path, mode: 0o700) }

    /// Writes the pidfile atomically, so a symlink planted at `path` is replaced rather than
    /// written through.
    private func writeFile(_ path: String, _ text: String) throws {
        try FileIO.replaceFile(path, Array(text.utf8), mode: 0o644)
    }
}
