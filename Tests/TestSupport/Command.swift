import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The outcome of running a program.
public struct CommandResult: Sendable, CustomStringConvertible {
    public let status: Int32
    public let stdout: String
    public let stderr: String

    public var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }

    /// stdout parsed as JSON (Foundation's parser, independent of the product's codec).
    public func json() throws -> Any {
        try JSONSerialization.jsonObject(with: Data(stdout.utf8), options: [.fragmentsAllowed])
    }

    /// stdout parsed as a JSON object.
    public func object() throws -> [String: Any] {
        guard let object = try json() as? [String: Any] else {
            throw TestFailure("stdout is not a JSON object: \(stdout)")
        }
        return object
    }
}

/// A failure raised by test helpers.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs programs the way a container runtime does: exec with an exact environment and stdin.
public enum Command {
    /// Runs `argv` (searched in PATH when not absolute) and waits for it.
    ///
    /// - Parameters:
    ///   - environment: the child's whole environment; nil inherits this process's.
    ///   - stdin: bytes fed on stdin (read from a file, so nothing can block).
    public static func run(_ argv: [String], environment: [String: String]? = nil, stdin: String = "") throws
        -> CommandResult
    {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cnit-cmd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let inPath = dir.appendingPathComponent("in").path
        let outPath = dir.appendingPathComponent("out").path
        let errPath = dir.appendingPathComponent("err").path
        try Data(stdin.utf8).write(to: URL(fileURLWithPath: inPath))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

        let env = environment ?? ProcessInfo.processInfo.environment
        var envEntries = env.map { "\($0.key)=\($0.value)" }
        if environment != nil, env["PATH"] == nil {
            envEntries.append("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        }
        let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let cEnv: [UnsafeMutablePointer<CChar>?] = envEntries.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }

        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, nil, cArgs, cEnv)
        guard rc == 0 else { throw TestFailure("cannot exec \(argv[0]): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return CommandResult(status: exitStatus, stdout: out, stderr: err)
    }

    /// Runs a shell-free command that must succeed, returning its stdout.
    @discardableResult
    public static func checked(_ argv: [String]) throws -> String {
        let result = try run(argv)
        guard result.status == 0 else {
            throw TestFailure("\(argv.joined(separator: " ")) failed: \(result)")
        }
        return result.stdout
    }
}
