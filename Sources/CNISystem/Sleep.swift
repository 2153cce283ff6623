import Glibc

/// Blocking sleeps for the synchronous plugin path, resumed across signals.
public enum Sleep {
    public static func microseconds(_ us: UInt32) {
        var request = timespec(tv_sec: Int(us / 1_000_000), tv_nsec: Int(us % 1_000_000) * 1000)
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}
