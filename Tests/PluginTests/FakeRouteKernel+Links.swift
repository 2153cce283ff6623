import Netlink

/// `IFLA_*` numbers the fake reads (from `<linux/if_link.h>`).
private enum Field {
    static let address: UInt16 = 1
    static let ifname: UInt16 = 3
    static let mtu: UInt16 = 4
    static let link: UInt16 = 5
    static let master: UInt16 = 10
    static let linkinfo: UInt16 = 18
    static let netnsFD: UInt16 = 28
    static let afSpec: UInt16 = 26
}

extension FakeRouteKernel {
    func linkRequest(_ message: NetlinkMessage, index: Int32, _ attributes: [Attribute]) throws(NetlinkError)
        -> [UInt8]
    {
        let name = attributes.first { $0.type == Field.ifname }?.string
        if message.payload.first == 7, message.type == .setLink || message.type == .delLink {
            return try bridgeVlan(message, index: index, attributes)
        }
        switch message.type {
        case .getLink:
            guard let position = position(index: index, name: name) else { return ack(message, 19) }
            return reply(links[position], message.sequence)
        case .delLink:
            guard let position = position(index: index, name: nil) else { return ack(message, 19) }
            if let errno = record("del link \(links[position].name)") { return ack(message, errno) }
            remove(at: position)
            return ack(message, 0)
        case .newLink where index == 0:
            return try create(message, name: name, attributes)
        default:
            guard let position = position(index: index, name: nil) else { return ack(message, 19) }
            if let errno = record("set link \(links[position].name)") { return ack(message, errno) }
            return ack(message, change(position, message.payload, attributes))
        }
    }

    /// `ip link set`: the flags under the change mask, then each attribute.
    private func change(_ position: Int, _ p: [UInt8], _ attributes: [Attribute]) -> Int32 {
        let flags = UInt32(bitPattern: Self.int32(p, 8)), mask = UInt32(bitPattern: Self.int32(p, 12))
        if mask & 1 != 0 { links[position].up = flags & 1 == 1 }
        links[position].flags = (links[position].flags & ~(mask & ~1)) | (flags & mask & ~1)
        for attribute in attributes {
            switch attribute.type {
            case Field.mtu: links[position].mtu = attribute.u32 ?? links[position].mtu
            case Field.address: links[position].mac = attribute.payload
            case Field.master:
                let master = attribute.i32 ?? 0
                let vrfs = Set(links.filter { $0.kind == "vrf" }.map(\.index))
                if vrfs.contains(master) || links[position].master.map(vrfs.contains) == true {
                    // Joining or leaving a VRF cycles the link: the kernel drops its routes and
                    // its global IPv6 addresses.
                    cycle(links[position].index)
                }
                links[position].master = master == 0 ? nil : master
            case Field.ifname:
                let name = attribute.string
                if links.contains(where: { $0.name == name && $0.index != links[position].index }) { return 17 }
                links[position].name = name
            case Field.netnsFD:
                guard let target = namespaces[attribute.i32 ?? -1] else { return 9 }
                var moved = links.remove(at: position)
                moved.master = nil
                _ = target.adopt(moved)
                return 0
            case Field.afSpec:
                // { AF_INET { IFLA_INET_CONF { setting: value, ... } } }
                guard let inet = try? attribute.nested().first(where: { $0.type == 2 }),
                    let conf = try? inet.nested().first(where: { $0.type == 1 }), let settings = try? conf.nested()
                else { return 22 }
                for setting in settings { links[position].ipv4[setting.type] = setting.u32 ?? 0 }
            default: break
            }
        }
        return 0
    }

    /// `ip link add`: the link (in the namespace `IFLA_NET_NS_FD` names, if any) and, for a
    /// veth, its peer (wherever the peer's own `IFLA_NET_NS_FD` puts it).
    private func create(_ message: NetlinkMessage, name: String?, _ attributes: [Attribute]) throws(NetlinkError)
        -> [UInt8]
    {
        guard let name else { return ack(message, 22) }
        let linkinfo = attributes.first { $0.type == Field.linkinfo }
        let info = try linkinfo.map { a throws(NetlinkError) in try a.nested() } ?? []
        let kind = info.first { $0.type == 1 }.map(\.string) ?? ""
        if let errno = record("new link \(name) \(kind)") { return ack(message, errno) }
        guard let target = destination(attributes) else { return ack(message, 9) }
        if target.links.contains(where: { $0.name == name }) { return ack(message, 17) }
        var link = FakeLink(index: 0, name: name, kind: kind)
        link.mtu = attributes.first { $0.type == Field.mtu }?.u32 ?? 1500
        link.mac = attributes.first { $0.type == Field.address }?.payload
        link.linkIndex = attributes.first { $0.type == Field.link }?.i32
        link.info = linkinfo?.payload
        // `master B` and `up` given with the creation apply to the new link (not a veth's peer).
        link.master = attributes.first { $0.type == Field.master }?.i32
        let flags = Self.int32(message.payload, 8), change = Self.int32(message.payload, 12)
        link.up = flags & change & 1 == 1
        guard kind == "veth" else {
            _ = target.adopt(link)
            return ack(message, 0)
        }
        let infoData = info.first { $0.type == 2 }
        let data = try infoData.map { a throws(NetlinkError) in try a.nested() } ?? []
        let peerAttributes = try AttributeReader.read((data.first { $0.type == 1 }?.payload ?? []).dropFirst(16))
        guard let peerName = peerAttributes.first(where: { $0.type == Field.ifname }).map(\.string),
            let peerTarget = destination(peerAttributes)
        else { return ack(message, 22) }
        if peerTarget.links.contains(where: { $0.name == peerName }) { return ack(message, 17) }
        let hostIndex = target.adopt(link)
        var peer = FakeLink(index: 0, name: peerName, kind: "veth", linkIndex: hostIndex)
        peer.mtu = peerAttributes.first { $0.type == Field.mtu }?.u32 ?? link.mtu
        peer.mac = peerAttributes.first { $0.type == Field.address }?.payload
        peer.peer = (target, hostIndex)
        let peerIndex = peerTarget.adopt(peer)
        if let position = target.links.firstIndex(where: { $0.index == hostIndex }) {
            target.links[position].linkIndex = peerIndex
            target.links[position].peer = (peerTarget, peerIndex)
        }
        return ack(message, 0)
    }

    /// What a link going down and up again loses: routes through it, global IPv6 addresses.
    private func cycle(_ index: Int32) {
        routes.removeAll { (try? RouteSpec(payload: $0))?.outputIndex == index }
        addresses.removeAll { $0.first == 10 && Self.int32($0, 4) == index && $0.count > 3 && $0[3] == 0 }
    }

    /// `bridge vlan add|del`: `IFLA_AF_SPEC` with one `IFLA_BRIDGE_VLAN_INFO` (flags, vid).
    private func bridgeVlan(_ message: NetlinkMessage, index: Int32, _ attributes: [Attribute]) throws(NetlinkError)
        -> [UInt8]
    {
        guard let position = position(index: index, name: nil) else { return ack(message, 19) }
        let spec = attributes.first { $0.type == 26 }
        let nested: [Attribute] = try spec.map { a throws(NetlinkError) in try a.nested() } ?? []
        let vlanInfo: Attribute? = nested.first { $0.type == 2 }
        let info: [UInt8] = vlanInfo?.payload ?? []
        guard info.count == 4 else { return ack(message, 22) }
        let flags = UInt16(info[0]) | UInt16(info[1]) << 8, id = UInt16(info[2]) | UInt16(info[3]) << 8
        let adding = message.type == .setLink
        var entry = "\(id)"
        if flags & 2 != 0 { entry += " pvid" }
        if flags & 4 != 0 { entry += " untagged" }
        if let errno = record("vlan \(adding ? "add" : "del") \(links[position].name) \(entry)") {
            return ack(message, errno)
        }
        if adding {
            links[position].vlans.removeAll { $0.split(separator: " ").first.map(String.init) == "\(id)" }
            links[position].vlans.append(entry)
        } else {
            let before = links[position].vlans.count
            links[position].vlans.removeAll { $0.split(separator: " ").first.map(String.init) == "\(id)" }
            if links[position].vlans.count == before { return ack(message, 2) }
        }
        return ack(message, 0)
    }

    /// This namespace, or the one a fake nsfs descriptor names; nil for an unknown descriptor.
    private func destination(_ attributes: [Attribute]) -> FakeRouteKernel? {
        guard let fd = attributes.first(where: { $0.type == Field.netnsFD })?.i32 else { return self }
        return namespaces[fd]
    }
}
