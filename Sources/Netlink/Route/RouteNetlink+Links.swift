import NetAddress
import CNISystem
extension RouteNetlink {
    /// Creates a link. The corresponding kernel message is `RTM_NEWLINK` with
    /// `NLM_F_CREATE | NLM_F_EXCL`, so an existing name fails with `EEXIST`.
    ///
    /// A kind this kernel does not support fails with `.unsupported`, naming what is missing.
    public func addLink(_ spec: LinkSpec) throws(NetlinkError) {
        do {
            try connection.acknowledged(.newLink, flags: [.create, .exclusive], payload: spec.requestPayload)
        } catch let error where error.kind == .kernel && error.errno == .notSupported {
            var feature = "\(spec.kind.name) links"
            if case .bridge(vlanFiltering: true) = spec.kind { feature = "bridge VLAN filtering" }
            throw NetlinkError(
                kind: .unsupported,
                operation:
                    "creating \(spec.kind.name) link \"\(spec.name)\": this kernel has no support for \(feature)",
                errno: error.errno, extAckMessage: error.extAckMessage)
        }
    }

    /// Deletes a link (and, for veth, its peer). The corresponding kernel message is `RTM_DELLINK`.
    /// A link that is already gone fails with `.notFound`.
    public func deleteLink(index: Int32) throws(NetlinkError) {
        do {
            try connection.acknowledged(.delLink, payload: InterfaceInfoHeader(index: index).encoded)
        } catch let error where error.kind == .kernel && error.errno == .noSuchDevice {
            throw NetlinkError(kind: .notFound, operation: "link \(index) not found", errno: .noSuchDevice)
        }
    }

    /// Deletes the link called `name` with one `RTM_DELLINK` naming it (`IFLA_IFNAME`, index 0):
    /// for a link whose index a caller could not learn. A link already gone fails with `.notFound`.
    public func deleteLink(named name: String) throws(NetlinkError) {
        var w = AttributeWriter()
        w.header(InterfaceInfoHeader().encoded)
        w.string(LinkAttribute.ifname, name)
        do {
            try connection.acknowledged(.delLink, payload: w.bytes)
        } catch let error where error.kind == .kernel && error.errno == .noSuchDevice {
            throw NetlinkError(kind: .notFound, operation: "link \"\(name)\" not found", errno: .noSuchDevice)
        }
    }

    /// The link with `index`. The corresponding kernel message is `RTM_GETLINK`.
    public func link(index: Int32) throws(NetlinkError) -> Link {
        var w = AttributeWriter()
        w.header(InterfaceInfoHeader(family: .packet, index: index).encoded)
        w.u32(LinkAttribute.extMask, RouteNetlink.extMaskVF)
        do {
            return try Link(payload: connection.single(.getLink, payload: w.bytes).payload)
        } catch let error where error.kind == .kernel && error.errno == .noSuchDevice {
            throw NetlinkError(kind: .notFound, operation: "link \(index) not found", errno: .noSuchDevice)
        }
    }

    /// One change to a link's attributes, as `ip link set dev X ...` sends it.
    public enum LinkChange: Sendable, Equatable {
        case mtu(UInt32)
        case hardwareAddress(MACAddress)
        case name(String)
        case txQueueLength(UInt32)
        /// Enslave to a bridge; nil releases (`nomaster`).
        case master(Int32?)
        /// Move into the network namespace of this nsfs fd.
        case namespace(fd: Int32)
        case promiscuous(Bool)
        case allMulticast(Bool)
        /// `IFLA_IFALIAS`; an empty alias clears it.
        case alias(String)
        /// `IFF_UP` on or off.
        case up(Bool)
        /// One IPv4 setting of the device (`/proc/sys/net/ipv4/conf/<if>/...`).
        case ipv4(IPv4DeviceSetting, UInt32)
    }

    static func changeRequest(index: Int32, _ change: LinkChange) -> [UInt8] {
        var header = InterfaceInfoHeader(index: index)
        var w = AttributeWriter()
        switch change {
        case .promiscuous(let on): header.change = .promiscuous; header.flags = on ? .promiscuous : []
        case .allMulticast(let on): header.change = .allMulticast; header.flags = on ? .allMulticast : []
        case .up(let on): header.change = .up; header.flags = on ? .up : []
        default: break
        }
        w.header(header.encoded)
        switch change {
        case .mtu(let mtu): w.u32(LinkAttribute.mtu, mtu)
        case .hardwareAddress(let mac): w.bytes(LinkAttribute.address, mac.bytes)
        case .name(let name): w.string(LinkAttribute.ifname, name)
        case .txQueueLength(let length): w.u32(LinkAttribute.txqlen, length)
        case .master(let master): w.u32(LinkAttribute.master, UInt32(bitPattern: master ?? 0))
        case .namespace(let fd): w.u32(LinkAttribute.netnsFD, UInt32(bitPattern: fd))
        case .alias(let alias): w.bytes(LinkAttribute.ifalias, Array(alias.utf8))
        case .ipv4(let setting, let value): RouteNetlink.ipv4SettingSpec(&w, setting, value)
        case .promiscuous, .allMulticast, .up: break
        }
        return w.bytes
    }

    /// Changes one attribute of a link. The corresponding kernel message is `RTM_NEWLINK`.
    public func setLink(index: Int32, _ change: LinkChange) throws(NetlinkError) {
        try connection.acknowledged(.newLink, payload: RouteNetlink.changeRequest(index: index, change))
    }
}

/// Bridge port settings (`IFLA_BRPORT_*`, nested in `IFLA_PROTINFO`).
public struct BridgePortAttribute: AttributeType {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Hairpin mode: traffic may leave through the port it came in on.
    public static let hairpin = BridgePortAttribute(rawValue: 4)
    public static let learning = BridgePortAttribute(rawValue: 8)
    public static let isolated = BridgePortAttribute(rawValue: 33)
}

/// Attributes nested in `IFLA_AF_SPEC` of a bridge message.
struct BridgeSpecAttribute: AttributeType {
    let rawValue: UInt16
    init(rawValue: UInt16) { self.rawValue = rawValue }
    static let vlanInfo = BridgeSpecAttribute(rawValue: 2)  // IFLA_BRIDGE_VLAN_INFO
}

/// Bridge VLAN membership of a port, for `bridge vlan add|del`.
public struct BridgeVlan: Sendable, Equatable {
    public var id: UInt16
    /// Untagged frames entering the port belong to this VLAN.
    public var pvid: Bool
    /// Frames of this VLAN leave the port untagged.
    public var untagged: Bool

    public init(id: UInt16, pvid: Bool = false, untagged: Bool = false) {
        self.id = id
        self.pvid = pvid
        self.untagged = untagged
    }

    var flags: UInt16 { (pvid ? 2 : 0) | (untagged ? 4 : 0) }
}

extension RouteNetlink {
    static let protinfo = LinkAttribute(rawValue: 12)
    static let afSpec = LinkAttribute(rawValue: 26)

    static func bridgePortRequest(index: Int32, _ settings: [(BridgePortAttribute, Bool)]) -> [UInt8] {
        var w = AttributeWriter()
        w.header(InterfaceInfoHeader(family: .bridge, index: index).encoded)
        w.nested(protinfo, setNestedFlag: true) { nested in
            for (attribute, on) in settings { nested.u8(attribute, on ? 1 : 0) }
        }
        return w.bytes
    }

    /// Sets bridge port options of an enslaved link, as `bridge link set dev X hairpin on ...`.
    /// The corresponding kernel message is `RTM_SETLINK` with family `AF_BRIDGE`.
    public func setBridgePort(index: Int32, _ settings: [(BridgePortAttribute, Bool)]) throws(NetlinkError) {
        try connection.acknowledged(.setLink, payload: RouteNetlink.bridgePortRequest(index: index, settings))
    }

    static func bridgeVlanRequest(index: Int32, _ vlan: BridgeVlan) -> [UInt8] {
        var w = AttributeWriter()
        w.header(InterfaceInfoHeader(family: .bridge, index: index).encoded)
        w.nested(afSpec) { spec in
            spec.bytes(
                BridgeSpecAttribute.vlanInfo, AttributeWriter.encode(vlan.flags) + AttributeWriter.encode(vlan.id))
        }
        return w.bytes
    }

    /// Adds a VLAN to a bridge port (`bridge vlan add dev X vid N [pvid] [untagged]`).
    /// Needs bridge VLAN filtering in the kernel; without it this fails with `.unsupported`.
    public func addBridgeVlan(index: Int32, _ vlan: BridgeVlan) throws(NetlinkError) {
        do {
            try connection.acknowledged(.setLink, payload: RouteNetlink.bridgeVlanRequest(index: index, vlan))
        } catch let error
            where error.kind == .kernel && (error.errno == .notSupported || error.errno == .invalidArgument)
        {
            throw NetlinkError(
                kind: .unsupported,
                operation:
                    "adding VLAN \(vlan.id) to bridge port \(index): this kernel or bridge has no VLAN filtering support",
                errno: error.errno, extAckMessage: error.extAckMessage)
        }
    }

    /// Removes a VLAN from a bridge port (`bridge vlan del dev X vid N`).
    public func deleteBridgeVlan(index: Int32, _ vlan: BridgeVlan) throws(NetlinkError) {
        try connection.acknowledged(
            .delLink, payload: RouteNetlink.bridgeVlanRequest(index: index, BridgeVlan(id: vlan.id)))
    }
}
