import CNISkeleton

/// IPAM by exec, with the rollback rule of the spec: an ADD that fails after IPAM ADD (or
/// inside it) runs IPAM DEL before reporting the failure.
public enum IPAMDelegation {
    /// Runs IPAM ADD and registers IPAM DEL on `rollback`. Fails when no IP comes back.
    public static func add(_ request: CNIRequest, type: String, rollback: Rollback) throws -> CNIResult {
        do {
            let result = try Delegate.add(type, request: request)
            rollback.add("IPAM reservation") { try Delegate.run(type, command: .del, request: request) }
            guard !result.ips.isEmpty else { throw CNIError(.internalError, "IPAM plugin returned missing IP config") }
            return result
        } catch {
            // A delegate that failed may still hold something; the spec says to DEL it.
            if (error as? CNIError)?.msg.hasPrefix("failed to find plugin") != true {
                try? Delegate.run(type, command: .del, request: request)
            }
            throw error
        }
    }
}
