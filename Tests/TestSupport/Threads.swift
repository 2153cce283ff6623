import Foundation

extension Thread {
    /// Runs `body` on a new thread; `wait()` returns its result.
    public static func detachedResult<T: Sendable>(_ body: @escaping @Sendable () throws -> T) -> Pending<T> {
        let pending = Pending<T>()
        Thread.detachNewThread { pending.finish(Result(catching: body)) }
        return pending
    }

    public final class Pending<T: Sendable>: @unchecked Sendable {
        // @unchecked: the result is handed over under the condition's lock.
        private let condition = NSCondition()
        private var result: Result<T, any Error>?

        public func finish(_ value: Result<T, any Error>) {
            condition.lock(); result = value; condition.signal(); condition.unlock()
        }

        public func wait() throws -> T {
            condition.lock(); defer { condition.unlock() }
            while result == nil { condition.wait() }
            return try result!.get()
        }
    }
}
