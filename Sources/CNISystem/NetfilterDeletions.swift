import Glibc

/// A commit that deletes netfilter objects leaves the kernel's destroy work for them pending
/// for about one RCU grace period, and every netfilter socket released meanwhile waits for
/// that work, whoever made the commit: an ADD right after another pod's DEL would pay ~10 ms
/// at its socket's close. Deleting commits mark the time on the plugins' netfilter lock file;
/// a commit that only adds hands its release to ``DeferredClose`` while the mark is recent,
/// and otherwise closes as usual (a helper costs more than a close with nothing to wait for).
///
/// Deletions by other programs (kube-proxy, firewalld) leave no mark; an ADD after one of
/// those still waits at most one grace period, as it did before.
public struct NetfilterDeletions: Sendable {
    /// Where the plugins' netfilter lock lives (`NetfilterLock` takes it), and so the mark.
    public static let lockDirectory = "/run/cni"
    public static let lockName = "swift-cni-netfilter.lock"
    /// The mark every plugin on the node shares: the netfilter lock file.
    public static let node = NetfilterDeletions(path: lockDirectory + "/" + lockName)
    /// How long after a deleting commit a release is deferred: a grace period is ~10-30 ms
    /// here, longer on a loaded node; a needless deferral costs only a helper's start.
    static let window: Int64 = 200_000_000

    /// The file whose modification time is the mark.
    public let path: String

    public init(path: String) { self.path = path }

    /// Records that a deleting commit was just made. A missing file (no plugin has taken the
    /// lock on this node) is left missing; a link there is touched itself, never its target.
    public func mark() {
        _ = utimensat(AT_FDCWD, path, nil, AT_SYMLINK_NOFOLLOW)
    }

    /// Whether a deleting commit was marked within ``window`` of now.
    public var recent: Bool {
        var info = stat()
        var now = timespec()
        guard fstatat(AT_FDCWD, path, &info, AT_SYMLINK_NOFOLLOW) == 0, clock_gettime(CLOCK_REALTIME, &now) == 0
        else { return false }
        return Self.within(now: now, mark: info.st_mtim)
    }

    /// `mark` no more than ``window`` before `now`; a mark in the future (clock stepped back)
    /// or absurd values never trap and count as not recent.
    static func within(now: timespec, mark: timespec) -> Bool {
        let seconds = Int64(now.tv_sec) &- Int64(mark.tv_sec)
        guard seconds >= 0, seconds <= 1 else { return false }
        let age = seconds &* 1_000_000_000 &+ (Int64(now.tv_nsec) &- Int64(mark.tv_nsec))
        return age >= 0 && age <= window
    }
}
