import Glibc

/// Closing a netfilter socket after a commit that deleted something waits for an RCU grace
/// period in the kernel (nf_tables flushes its destroy work when the socket is released),
/// about 10 ms. A DEL need not make the runtime wait for that: the socket is handed to a
/// short-lived detached helper (this same executable under another name) that releases it
/// after this process has exited. The commit itself is complete before the handoff, so
/// nothing depends on the helper: if it never runs, the socket is simply released here.
public enum DeferredClose {
    /// argv[0] of the helper; the executables check for it before anything else.
    public static let helperName = "swift-cni-release"
    /// How long the helper keeps the socket (milliseconds), so that this process's own copy
    /// is closed first and the final release (and its wait) happens in the helper.
    static let delayVariable = "SWIFT_CNI_RELEASE_DELAY_MS"
    /// `POSIX_SPAWN_SETSID` (a GNU extension Glibc's module does not import), from `<spawn.h>`.
    static let spawnSetSID: Int32 = 0x80

    /// Closes `fd`, leaving its final release to a detached helper. Falls back to a plain close
    /// (which then waits) when the helper cannot be started.
    public static func close(_ fd: Int32) {
        // Whether or not the helper started, this copy goes now; only the wait moves.
        _ = spawnHelper(holding: fd)
        _ = Glibc.close(fd)
    }

    /// Starts the helper with `fd` as its descriptor 3, /dev/null as 0-2 (so it never holds
    /// the runtime's pipes open) in a session of its own; every other descriptor is CLOEXEC.
    static func spawnHelper(holding fd: Int32) -> Bool {
        // A copy above the standard descriptors, so that dup2 onto 3 always makes a new,
        // inheritable descriptor (dup2 of 3 onto itself would keep close-on-exec).
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 10)
        guard copy >= 0 else { return false }
        defer { _ = Glibc.close(copy) }
        var actions = posix_spawn_file_actions_t()
        guard posix_spawn_file_actions_init(&actions) == 0 else { return false }
        defer { posix_spawn_file_actions_destroy(&actions) }
        for target in Int32(0)...2 { posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_RDWR, 0) }
        posix_spawn_file_actions_adddup2(&actions, copy, 3)
        var attributes = posix_spawnattr_t()
        guard posix_spawnattr_init(&attributes) == 0 else { return false }
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        var all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(spawnSetSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let delay = getenv(delayVariable).map { String(cString: $0) }
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(helperName), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = (delay.map { [strdup("\(delayVariable)=\($0)")] } ?? []) + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        return posix_spawn(&pid, "/proc/self/exe", &actions, &attributes, argv, envp) == 0
    }

    /// In the helper: keep descriptor 3 a moment, then exit (which releases it). Returns
    /// normally when this process is not the helper.
    public static func runHelperIfAsked() {
        guard let first = CommandLine.arguments.first, first == helperName else { return }
        closeInherited()
        let requested = getenv(delayVariable).flatMap { Int32(String(cString: $0)) } ?? 50
        Sleep.microseconds(UInt32(clamping: max(0, min(requested, 5_000))) * 1000)
        exit(0)
    }

    /// Descriptors the plugin itself inherited without close-on-exec (a runtime's pipes among
    /// them, possibly) are not the helper's to keep: everything above the socket goes.
    static func closeInherited() {
        let open = (DirectoryEntries.names(atPath: "/proc/self/fd") ?? []).compactMap { Int32($0) }
        for fd in open where fd > 3 { _ = Glibc.close(fd) }
    }
}
