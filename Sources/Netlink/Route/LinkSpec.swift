import NetAddress

/// macvlan modes (`MACVLAN_MODE_*`).
public enum MacvlanMode: UInt32, Sendable {
    case `private` = 1, vepa = 2, bridge = 4, passthru = 8, source = 16
}

/// ipvlan modes (`IPVLAN_MODE_*`).
public enum IpvlanMode: UInt16, Sendable {
    case l2 = 0, l3 = 1, l3s = 2
}

/// ipvlan port flags (`IPVLAN_F_*`); `bridge` is the absence of both.
public enum IpvlanFlag: UInt16, Sendable {
    case bridge = 0, `private` = 1, vepa = 2
}

/// The other end of a veth pair.
public struct VethPeer: Sendable, Equatable {
    public var name: String
    public var mtu: UInt32?
    public var hardwareAddress: MACAddress?
    /// Create the peer directly inside this network namespace (an nsfs fd).
    public var namespaceFD: Int32?

    public init(name: String, mtu: UInt32? = nil, hardwareAddress: MACAddress? = nil, namespaceFD: Int32? = nil) {
        self.name = name
        self.mtu = mtu
        self.hardwareAddress = hardwareAddress
        self.namespaceFD = namespaceFD
    }
}

/// What to create with `RouteNetlink.addLink`.
public struct LinkSpec: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case veth(peer: VethPeer)
        case bridge(vlanFiltering: Bool?)
        case macvlan(parent: Int32, mode: MacvlanMode)
        case ipvlan(parent: Int32, mode: IpvlanMode, flag: IpvlanFlag)
        case vlan(parent: Int32, id: UInt16)
        case ifb
        case dummy
        /// A VRF device bound to routing table `table`.
        case vrf(table: UInt32)

        /// The kernel's `IFLA_INFO_KIND` string.
        public var name: String {
            switch self {
            case .veth: return "veth"
            case .bridge: return "bridge"
            case .macvlan: return "macvlan"
            case .ipvlan: return "ipvlan"
            case .vlan: return "vlan"
            case .ifb: return "ifb"
            case .dummy: return "dummy"
            case .vrf: return "vrf"
            }
        }

        var parent: Int32? {
            switch self {
            case .macvlan(let parent, _), .ipvlan(let parent, _, _), .vlan(let parent, _): return parent
            default: return nil
            }
        }
    }

    public var name: String
    public var kind: Kind
    public var mtu: UInt32?
    public var hardwareAddress: MACAddress?
    /// Create the link directly inside this network namespace (an nsfs fd).
    public var namespaceFD: Int32?
    public var txQueueLength: UInt32?
    /// macvlan only: `IFLA_MACVLAN_BC_QUEUE_LEN`, the broadcast queue length.
    public var macvlanBroadcastQueueLength: UInt32?
    /// Enslave the new link to this device (a bridge) as it is created (`master B`).
    public var master: Int32?
    /// Bring the new link up as it is created (`up`); a veth's peer stays down.
    public var up = false

    public init(
        name: String, kind: Kind, mtu: UInt32? = nil, hardwareAddress: MACAddress? = nil,
        namespaceFD: Int32? = nil, txQueueLength: UInt32? = nil
    ) {
        self.name = name
        self.kind = kind
        self.mtu = mtu
        self.hardwareAddress = hardwareAddress
        self.namespaceFD = namespaceFD
        self.txQueueLength = txQueueLength
    }
}

/// Attributes nested in `IFLA_INFO_DATA`, per link kind.
/// `IFLA_INFO_DATA` of a veth (`VETH_INFO_*`).
struct VethAttribute: AttributeType {
    let rawValue: UInt16
    init(rawValue: UInt16) { self.rawValue = rawValue }
    static let peer = VethAttribute(rawValue: 1)
}

/// `IFLA_INFO_DATA` of a bridge (`IFLA_BR_*`).
struct BridgeAttribute: AttributeType {
    let rawValue: UInt16
    init(rawValue: UInt16) { self.rawValue = rawValue }
    static let vlanFiltering = BridgeAttribute(rawValue: 7)
}

/// `IFLA_INFO_DATA` of a macvlan (`IFLA_MACVLAN_*`).
struct MacvlanAttribute: AttributeType {
    let rawValue: UInt16
    init(rawValue: UInt16) { self.rawValue = rawValue }
    static let mode = MacvlanAttribute(rawValue: 1)
    static let broadcastQueueLength = MacvlanAttribute(rawValue: 7)
}

/// `IFLA_INFO_DATA` of an ipvlan (`IFLA_IPVLAN_*`).
struct IpvlanAttribute: AttributeType {
    let rawValue: UInt16
    init(rawValue: UInt16) { self.rawValue = rawValue }
    static let mode = IpvlanAttribute(rawValue: 1)
    static let flags = IpvlanAttribute(rawValue: 2)
}

/// `IFLA_INFO_DATA` of a VRF (`IFLA_VRF_*`).
struct VrfAttribute: AttributeType {
    let rawValue: UInt16
    init(rawValue: UInt16) { self.rawValue = rawValue }
    static let table = VrfAttribute(rawValue: 1)
}

/// `IFLA_INFO_DATA` of an 802.1q vlan (`IFLA_VLAN_*`).
struct VlanAttribute: AttributeType {
    let rawValue: UInt16
    init(rawValue: UInt16) { self.rawValue = rawValue }
    static let id = VlanAttribute(rawValue: 1)
}

extension LinkSpec {
    /// The `RTM_NEWLINK` payload, attribute order as iproute2 emits it for
    /// `ip link add [link P] NAME mtu M address A netns N txqueuelen Q master B [up] type KIND ...`.
    var requestPayload: [UInt8] {
        var w = AttributeWriter()
        var header = InterfaceInfoHeader()
        if up { (header.flags, header.change) = (.up, .up) }
        w.header(header.encoded)
        LinkSpec.common(&w, mtu: mtu, mac: hardwareAddress, namespaceFD: namespaceFD, txqlen: txQueueLength)
        if let master { w.u32(LinkAttribute.master, UInt32(bitPattern: master)) }
        if let parent = kind.parent { w.u32(LinkAttribute.link, UInt32(bitPattern: parent)) }
        w.string(LinkAttribute.ifname, name)
        w.nested(LinkAttribute.linkinfo) { info in
            // iproute2 sends the kind without a terminating NUL; the kernel accepts both.
            info.bytes(LinkInfoAttribute.kind, Array(kind.name.utf8))
            encodeData(&info)
        }
        return w.bytes
    }

    private static func common(
        _ w: inout AttributeWriter, mtu: UInt32?, mac: MACAddress?, namespaceFD: Int32?, txqlen: UInt32?
    ) {
        if let mtu { w.u32(LinkAttribute.mtu, mtu) }
        if let mac { w.bytes(LinkAttribute.address, mac.bytes) }
        if let namespaceFD { w.u32(LinkAttribute.netnsFD, UInt32(bitPattern: namespaceFD)) }
        if let txqlen { w.u32(LinkAttribute.txqlen, txqlen) }
    }

    private func encodeData(_ info: inout AttributeWriter) {
        switch kind {
        case .veth(let peer):
            info.nested(LinkInfoAttribute.data) { data in
                var peerWriter = AttributeWriter()
                peerWriter.header(InterfaceInfoHeader().encoded)
                LinkSpec.common(
                    &peerWriter, mtu: peer.mtu, mac: peer.hardwareAddress, namespaceFD: peer.namespaceFD, txqlen: nil)
                peerWriter.string(LinkAttribute.ifname, peer.name)
                data.bytes(VethAttribute.peer, peerWriter.bytes)
            }
        case .bridge(let vlanFiltering):
            guard let vlanFiltering else { return }
            info.nested(LinkInfoAttribute.data) { $0.u8(BridgeAttribute.vlanFiltering, vlanFiltering ? 1 : 0) }
        case .macvlan(_, let mode):
            info.nested(LinkInfoAttribute.data) {
                $0.u32(MacvlanAttribute.mode, mode.rawValue)
                if let length = macvlanBroadcastQueueLength { $0.u32(MacvlanAttribute.broadcastQueueLength, length) }
            }
        case .ipvlan(_, let mode, let flag):
            info.nested(LinkInfoAttribute.data) {
                $0.u16(IpvlanAttribute.mode, mode.rawValue)
                $0.u16(IpvlanAttribute.flags, flag.rawValue)
            }
        case .vlan(_, let id):
            info.nested(LinkInfoAttribute.data) { $0.u16(VlanAttribute.id, id) }
        case .vrf(let table):
            info.nested(LinkInfoAttribute.data) { $0.u32(VrfAttribute.table, table) }
        case .ifb, .dummy:
            break
        }
    }
}
