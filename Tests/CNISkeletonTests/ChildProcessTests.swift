import CNISkeleton
import Glibc
import Testing

@Suite("ChildProcess: a delegate's stdin, stdout and signals")
struct ChildProcessTests {
    /// SIGPIPE's bit in the hexadecimal masks of /proc/PID/status.
    static let pipeBit: UInt64 = 1 << (UInt64(SIGPIPE) - 1)

    static func mask(_ line: Substring) -> UInt64? {
        line.split(separator: "\t").last.flatMap { UInt64($0.trimmingPrefix(" "), radix: 16) }
    }

    /// Under `swift test` a SIGPIPE never kills this process (it survives the write even
    /// without the block), so the kill itself is covered where a real plugin binary is the
    /// caller: CNIToolRunTests.pluginExitsEarly and DelegationTests.hostileIPAM.
    @Test("A child that exits without reading a large stdin is reported as it ended; the caller's mask is put back")
    func childIgnoresStdin() throws {
        var before = sigset_t()
        pthread_sigmask(SIG_SETMASK, nil, &before)
        let child = ChildProcess(executable: "/bin/true", environment: [])
        let outcome = try child.run(stdin: [UInt8](repeating: 0x20, count: 1 << 20))
        #expect(outcome.status == 0 && outcome.stdout.isEmpty)
        var pending = sigset_t(), after = sigset_t()
        sigpending(&pending)
        pthread_sigmask(SIG_SETMASK, nil, &after)
        #expect(sigismember(&pending, SIGPIPE) == 0)
        #expect(sigismember(&after, SIGPIPE) == sigismember(&before, SIGPIPE), "the caller's mask is put back")
    }

    @Test("The child starts with SIGPIPE neither blocked nor ignored, and its stdout comes back whole")
    func childSignals() throws {
        // sh with no arguments reads its commands from stdin; exec keeps the same signal state.
        let child = ChildProcess(executable: "/bin/sh", environment: ["PATH=/usr/bin:/bin"])
        let outcome = try child.run(stdin: Array("exec grep -E '^Sig(Blk|Ign):' /proc/self/status\n".utf8))
        #expect(outcome.status == 0)
        let lines = String(decoding: outcome.stdout, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 2, "\(lines)")
        for line in lines {
            let mask = try #require(Self.mask(line), "\(line)")
            #expect(mask & Self.pipeBit == 0, "\(line)")
        }
    }
}

extension ChildProcessTests {
    @Test("A child writing without end is drained to its exit and reported, its output not kept")
    func endlessOutput() throws {
        let child = ChildProcess(executable: "/bin/sh", environment: ["PATH=/usr/bin:/bin"])
        let script = Array("head -c \(ChildProcess.outputLimit + 1) /dev/zero\n".utf8)
        #expect {
            try child.run(stdin: script)
        } throws: { error in
            (error as? CNIError)?.msg.contains("more than 16 MiB") == true
        }
        let exact = try child.run(stdin: Array("head -c \(ChildProcess.outputLimit) /dev/zero\n".utf8))
        #expect(exact.status == 0 && exact.stdout.count == ChildProcess.outputLimit)
    }
}
