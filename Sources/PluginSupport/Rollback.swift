import CNISkeleton

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

/// The steps of a best-effort teardown (DEL, GC): each runs whatever happened to the others,
/// and the failures come back together, typed, as one error.
public struct Cleanup {
    /// One step that failed.
    public struct Failure: Error, CustomStringConvertible {
        public let step: String
        public let error: any Error
        public var description: String { "\(step): \((error as? CNIError)?.msg ?? "\(error)")" }
    }

    public private(set) var failures: [Failure] = []

    public init() {}

    /// Runs `body`, keeping its error, if any, for ``finish()``.
    public mutating func run(_ step: String, _ body: () throws -> Void) {
        do { try body() } catch { failures.append(Failure(step: step, error: error)) }
    }

    /// Throws what failed as one CNI error: a single CNI error keeps its code, anything else
    /// is code 999 naming every failed step.
    public func finish() throws(CNIError) {
        guard !failures.isEmpty else { return }
        if failures.count == 1, let error = failures[0].error as? CNIError { throw error }
        throw CNIError(.internalError, failures.map(\.description).joined(separator: "; "))
    }
}
