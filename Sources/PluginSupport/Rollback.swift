/// Undo steps of a half-done ADD, run newest first unless the ADD commits.
///
/// Every step that creates something registers its undo right after it succeeds; a failure
/// anywhere later then leaves nothing behind (unlike the reference, whose deferred cleanups
/// key on a shadowed `err` and skip some paths).
public final class Rollback {
    private var steps: [(String, () throws -> Void)] = []
    private var committed = false

    public init() {}

    /// Registers how to undo the step that just succeeded.
    public func add(_ what: String, _ undo: @escaping () throws -> Void) {
        steps.append((what, undo))
    }

    /// Keeps everything: the ADD succeeded.
    public func commit() { committed = true }

    /// Runs the undo steps (newest first) unless committed; failures are reported on stderr
    /// and do not stop the remaining steps.
    public func unwindIfNeeded(log: (String) -> Void = { _ in }) {
        guard !committed else { return }
        for (what, undo) in steps.reversed() {
            do { try undo() } catch { log("rollback of \(what) failed: \(error)") }
        }
        steps = []
    }

    deinit { unwindIfNeeded() }
}
