/// nftables through libnftnl and libmnl (architecture.md §2-3).
///
/// The masquerade, port-mapping and firewall rules land here with the plugins that need
/// them; nothing in the suite links libnftnl until then.
public enum Netfilter {
    /// The nftables table the reference's ipMasq backend uses.
    public static let masqueradeTable = "cni_plugins_masquerade"
}
