import Glibc

/// Debug builds only: the test of "a death at every step" makes a plugin process die at a
/// chosen point of its work, as SIGKILL would, to prove that the runtime's DEL and GC then
/// leave nothing behind. `SWIFT_CNI_FAULT=<plugin>:<k>` lets the process named `<plugin>`
/// make `k` kernel or state changes (a netlink request, an nftables batch, a sysctl write, a
/// state-file write) and exit with status 1 right before the next one, printing nothing and
/// undoing nothing. Release builds compile every call to nothing.
public enum FaultPoint {
    #if DEBUG
        nonisolated(unsafe) private static var remaining = -1
    #endif

    /// Reads `SWIFT_CNI_FAULT` once, at the start of the process running `plugin`.
    public static func arm(plugin: String) {
        #if DEBUG
            guard let value = getenv("SWIFT_CNI_FAULT").map({ String(cString: $0) }),
                let colon = value.lastIndex(of: ":"), value[..<colon] == plugin,
                let steps = Int(value[value.index(after: colon)...]), steps >= 0
            else { return }
            remaining = steps
        #endif
    }

    /// Marks one change about to be made; dies here when the budget is spent.
    @inline(__always)
    public static func step() {
        #if DEBUG
            guard remaining >= 0 else { return }
            if remaining == 0 { _exit(1) }
            remaining -= 1
        #endif
    }
}
