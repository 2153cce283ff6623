import CNISystem
import Glibc

/// An exclusive `flock` on `/run/cni/swift-cni-netfilter.lock`, held while a plugin reads
/// set elements and then changes them. The kernel deletes an element by key whoever holds
/// it, so without the lock a late DEL could check that an element is its own, lose the
/// race to an ADD that takes the address over, and then delete the new holder's element.
public final class NetfilterLock {
    private let descriptor: Int32

    /// Waits for the lock.
    public init() throws(SystemError) {
        descriptor = try StateDirectory(NetfilterDeletions.lockDirectory).lock(NetfilterDeletions.lockName)
    }

    deinit { close(descriptor) }

    /// Runs `body` holding the lock `kernel` takes (none in tests).
    public static func holding<T>(_ kernel: KernelContext, _ body: () throws -> T) throws -> T {
        let lock = try kernel.netfilterLock()
        defer { withExtendedLifetime(lock) {} }
        return try body()
    }
}
