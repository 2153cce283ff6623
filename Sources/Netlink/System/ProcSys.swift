import CSystemShim
import Glibc

/// Opens `/proc/sys` files through a procfs instance of this process's own.
///
/// Why: the per-namespace directories of `/proc/sys/net` (`ipv4`, `ipv6`, `core`, ...) hang
/// under one `net` entry shared by every namespace, so the kernel's lookup of `ipv6` compares,
/// under two locks each, the `ipv6` entry of every live namespace that ever used it, and never
/// in its lock-free mode (`/proc/sys` entries refuse it). Measured with 200 pods: 0.2 ms for
/// the node's `ipv6`, as much again for a new pod's, growing with the pods. A new procfs
/// instance holds only the entries this process looks up: 45 µs to make, 30 µs to drop at
/// exit, a few µs per lookup. What a file resolves to does not change: `/proc/sys/net` still
/// answers for the namespace of the thread that looks it up. Only `/proc/sys/net` is opened
/// this way, and only while it is plain procfs (no read-only or masking mount over it, which
/// the instance would bypass). When the kernel has no `fsopen` or refuses it (no
/// `CAP_SYS_ADMIN`, a security module), the shared `/proc` is used.
public enum ProcSys {
    /// Whether files are opened through the private instance (false: through `/proc`).
    public static var isPrivate: Bool { CSystemShim_private_procfs() >= 0 }

    private static let prefix = Array("/proc/".utf8)
    /// The subtree checked to be plain procfs before an instance is made (see the shim).
    private static let procSysNet = Array("/proc/sys/net".utf8)

    /// `open(file, flags)` for a `/proc/sys/net...` path, through the private instance when
    /// there is one. A refusal there (`EACCES`, `EPERM`: a policy on paths) falls back to `/proc`.
    static func open(_ file: String, _ flags: Int32) -> Int32 {
        let bytes = Array(file.utf8)
        guard isUnderNet(bytes) else { return Glibc.open(file, flags) }
        let root = CSystemShim_private_procfs()
        guard root >= 0 else { return Glibc.open(file, flags) }
        var relative = Array(bytes[prefix.count...])
        relative.append(0)
        let fd = relative.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { name in name.baseAddress.map { openat(root, $0, flags) } ?? -1 }
        }
        if fd < 0, isRefusal(errno) { return Glibc.open(file, flags) }
        return fd
    }

    /// Whether `errno` is a refusal a policy on paths could give the private instance alone.
    public static func isRefusal(_ errno: Int32) -> Bool { errno == EACCES || errno == EPERM }

    private static func isUnderNet(_ path: [UInt8]) -> Bool {
        path.starts(with: procSysNet) && (path.count == procSysNet.count || path[procSysNet.count] == UInt8(ascii: "/"))
    }
}
