import CNISystem
import Glibc

/// Runs a program with given stdin bytes, capturing stdout; stderr is inherited so a
/// delegate's diagnostics reach the runtime, as the spec asks.
public struct ChildProcess {
    public let executable: String
    /// `KEY=value` strings: the child's whole environment.
    public let environment: [String]

    public init(executable: String, environment: [String]) {
        self.executable = executable
        self.environment = environment
    }

    /// How the child ended: its exit status (128 + signal when killed) and its stdout.
    public struct Outcome {
        public var status: Int32
        public var stdout: [UInt8]
    }

    /// Runs the program to its end.
    public func run(stdin: [UInt8]) throws(CNIError) -> Outcome {
        var inPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1]
        guard pipe(&inPipe) == 0 else { throw failure("pipe") }
        guard pipe(&outPipe) == 0 else {
            close(inPipe[0]); close(inPipe[1])
            throw failure("pipe")
        }
        // Plugins are single-threaded, so marking close-on-exec after pipe() cannot race.
        for fd in inPipe + outPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)

        // The child may exit without reading its stdin (a plugin refusing its arguments): writing
        // the rest would raise SIGPIPE and kill this process with no CNI error. Blocked here, the
        // write fails with EPIPE instead; the child starts with the caller's mask and SIGPIPE default.
        let sigpipe = SigpipeBlock()
        defer { sigpipe.restore() }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        sigpipe.prepare(&attributes)

        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(executable), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        // A plugin binary still open for writing (being installed, or a forked process holding the
        // writer's descriptor) refuses exec with ETXTBSY for a moment: retried like libcni does,
        // up to five times a second apart.
        var rc = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        for _ in 0..<5 where rc == ETXTBSY {
            Sleep.microseconds(1_000_000)
            rc = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        }
        close(inPipe[0]); close(outPipe[1])
        guard rc == 0 else {
            close(inPipe[1]); close(outPipe[0])
            throw CNIError(.internalError, "failed to execute \(executable): \(String(cString: strerror(rc)))")
        }
        let (output, overflowed) = pump(stdin: stdin, writeFD: inPipe[1], readFD: outPipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        guard !overflowed else {
            throw CNIError(.internalError, "\(executable) wrote more than \(Self.outputLimit >> 20) MiB to stdout")
        }
        let exited = (status & 0x7f) == 0
        return Outcome(status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), stdout: output)
    }

    /// The most of a child's stdout that is kept: a result or an error is a few KiB, and a
    /// child that writes without end must not take the caller's memory with it.
    public static let outputLimit = 16 << 20

    /// Feeds stdin and drains stdout together, so neither side can block the other. Output past
    /// ``outputLimit`` is read and dropped (so the child can finish), and reported.
    private func pump(stdin: [UInt8], writeFD: Int32, readFD: Int32) -> (output: [UInt8], overflowed: Bool) {
        var output: [UInt8] = []
        var overflowed = false
        var written = 0
        var writing = true
        if stdin.isEmpty { close(writeFD); writing = false } else { _ = fcntl(writeFD, F_SETFL, O_NONBLOCK) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            var fds = [pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)]
            if writing { fds.append(pollfd(fd: writeFD, events: Int16(POLLOUT), revents: 0)) }
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            if writing, fds.count > 1, fds[1].revents != 0 {
                let n = stdin[written...].withUnsafeBytes { write(writeFD, $0.baseAddress, $0.count) }
                if n > 0 { written += n }
                if n < 0, errno != EAGAIN, errno != EINTR { written = stdin.count }
                if written >= stdin.count { close(writeFD); writing = false }
            }
            if fds[0].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(readFD, $0.baseAddress, $0.count) }
                if n > 0 {
                    if output.count + n > Self.outputLimit { overflowed = true } else { output += buffer[0..<n] }
                    continue
                }
                if n < 0, errno == EINTR { continue }
                break
            }
        }
        if writing { close(writeFD) }
        close(readFD)
        return (output, overflowed)
    }

    /// SIGPIPE blocked for the life of one child, and a SIGPIPE raised meanwhile discarded.
    private struct SigpipeBlock {
        private var previous = sigset_t()
        private var pipeOnly = sigset_t()
        private let alreadyPending: Bool

        init() {
            sigemptyset(&pipeOnly)
            sigaddset(&pipeOnly, SIGPIPE)
            var pending = sigset_t()
            sigpending(&pending)
            alreadyPending = sigismember(&pending, SIGPIPE) == 1
            pthread_sigmask(SIG_BLOCK, &pipeOnly, &previous)
        }

        /// The child gets the mask as it was before the block, and SIGPIPE's default action.
        func prepare(_ attributes: inout posix_spawnattr_t) {
            var mask = previous, defaults = pipeOnly
            posix_spawnattr_setsigmask(&attributes, &mask)
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        }

        func restore() {
            var pending = sigset_t(), set = pipeOnly, mask = previous
            sigpending(&pending)
            if !alreadyPending, sigismember(&pending, SIGPIPE) == 1 {
                var now = timespec(tv_sec: 0, tv_nsec: 0)
                _ = sigtimedwait(&set, nil, &now)
            }
            pthread_sigmask(SIG_SETMASK, &mask, nil)
        }
    }

    private func failure(_ call: String) -> CNIError {
        CNIError(.internalError, "\(call) failed: \(String(cString: strerror(errno)))")
    }
}
