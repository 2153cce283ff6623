import CNISkeleton
import Netfilter

/// STATUS support for plugins that write nftables rules.
public enum NetfilterStatus {
    /// Fails with code 50 when nftables does not answer in this namespace (for example a
    /// kernel without nf_tables): ADD would fail, so the runtime should not send pods.
    public static func require(_ kernel: KernelContext = .live) throws {
        do { _ = try kernel.netfilter().hasTable(family: .inet, table: Masquerade.table) } catch {
            throw CNIError(.pluginNotAvailable, "nftables is not available: \(error)")
        }
    }
}
