import CNISkeleton

/// Address management shared by host-local and static: range sets, the allocator and the
/// reference-compatible disk store land here with their issue.
public enum IPAM {
    /// The reference's default host-local state directory.
    public static let defaultDataDir = "/var/lib/cni/networks"
}
