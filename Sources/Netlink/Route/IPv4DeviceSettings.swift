/// IPv4 settings of one device (`IPV4_DEVCONF_*`, the values under
/// `/proc/sys/net/ipv4/conf/<if>/`), read from and written through `IFLA_AF_SPEC`.
///
/// Why not `/proc/sys`: a lookup of `/proc/sys/net/ipv4` compares the `ipv4` entry of every
/// network namespace that ever looked it up, about 0.5 ms with 1,000 pods; the netlink
/// request costs the same with any number of pods.
public struct IPv4DeviceSetting: AttributeType {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// `arp_notify`.
    public static let arpNotify = IPv4DeviceSetting(rawValue: 22)
    /// `route_localnet`.
    public static let routeLocalnet = IPv4DeviceSetting(rawValue: 26)
}

/// `AF_INET` inside `IFLA_AF_SPEC`, and `IFLA_INET_CONF` inside that.
struct InetSpecAttribute: AttributeType {
    let rawValue: UInt16
    init(rawValue: UInt16) { self.rawValue = rawValue }
    static let inet = InetSpecAttribute(rawValue: 2)
    static let conf = InetSpecAttribute(rawValue: 1)
}

extension Link {
    /// The device's IPv4 `setting`, from the `IFLA_INET_CONF` array the kernel puts in every
    /// link message (one u32 per setting, the first for setting 1); nil when the message has
    /// none (no IPv4 on the device) or it is too short.
    public func ipv4(_ setting: IPv4DeviceSetting) -> UInt32? {
        guard let spec = attributes.first(where: { $0.is(RouteNetlink.afSpec) }),
            let inet = (try? spec.nested())?.first(where: { $0.is(InetSpecAttribute.inet) }),
            let conf = (try? inet.nested())?.first(where: { $0.is(InetSpecAttribute.conf) }),
            setting.rawValue >= 1
        else { return nil }
        let offset = (Int(setting.rawValue) - 1) * 4
        guard offset + 4 <= conf.payload.count else { return nil }
        return Attribute(type: 0, payload: Array(conf.payload[offset..<(offset + 4)])).u32
    }
}

extension RouteNetlink {
    /// The `IFLA_AF_SPEC` that sets one IPv4 setting: `{ AF_INET { IFLA_INET_CONF { setting: value } } }`.
    static func ipv4SettingSpec(_ w: inout AttributeWriter, _ setting: IPv4DeviceSetting, _ value: UInt32) {
        w.nested(afSpec) { spec in
            spec.nested(InetSpecAttribute.inet) { inet in
                inet.nested(InetSpecAttribute.conf) { $0.u32(setting, value) }
            }
        }
    }
}
