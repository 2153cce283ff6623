import Netlink

extension FakeRouteKernel {
    /// Addresses and routes, kept as the requests that made them so dumps answer with them.
    func addressOrRoute(_ message: NetlinkMessage) throws(NetlinkError) -> [[UInt8]] {
        let p = message.payload
        switch message.type {
        case .getAddress:
            let family = p.first ?? 0, index = Self.int32(p, 4)
            return addresses.filter { $0.first == family && (index == 0 || Self.int32($0, 4) == index) }.map {
                NetlinkMessage(
                    type: .newAddress, flags: .multi, sequence: message.sequence, portID: portID, payload: $0
                )
                .encoded()
            } + [done(message)]
        case .newAddress, .delAddress:
            return [ack(message, try changeAddress(message))]
        case .getRoute where message.flags.contains(.dump):
            return routes.filter { $0.first == p.first }.map {
                NetlinkMessage(type: .newRoute, flags: .multi, sequence: message.sequence, portID: portID, payload: $0)
                    .encoded()
            } + [done(message)]
        case .getRoute:
            return [ack(message, 101)]  // ENETUNREACH: no route lookups here
        default:
            return [ack(message, try changeRoute(message))]
        }
    }

    private func changeAddress(_ message: NetlinkMessage) throws(NetlinkError) -> Int32 {
        let added = try InterfaceAddress(payload: message.payload)
        let index = Int32(bitPattern: added.index)
        guard let link = links.first(where: { $0.index == index }) else { return 19 }
        let text = added.prefix.map { "\($0)" } ?? "?"
        let adding = message.type == .newAddress
        if let errno = record("\(adding ? "new" : "del") addr \(link.name) \(text)") { return errno }
        let existing = addresses.firstIndex {
            guard let other = try? InterfaceAddress(payload: $0) else { return false }
            return other.index == added.index && other.address == added.address
        }
        if adding {
            if existing != nil { return 17 }
            addresses.append(message.payload)
        } else {
            guard let existing else { return 99 }  // EADDRNOTAVAIL
            addresses.remove(at: existing)
        }
        return 0
    }

    private func changeRoute(_ message: NetlinkMessage) throws(NetlinkError) -> Int32 {
        let route = try RouteSpec(payload: message.payload)
        let device = route.outputIndex.flatMap { index in links.first { $0.index == index }?.name } ?? "-"
        let via = route.gateway.map { " via \($0)" } ?? ""
        let table = route.table == mainRoutingTable ? "" : " table \(route.table)"
        let adding = message.type == .newRoute
        // The kernel refuses a destination with host bits set.
        if adding && route.destination != route.destination.masked { return 22 }
        if let errno = record("\(adding ? "new" : "del") route \(route.destination)\(via) dev \(device)\(table)") {
            return errno
        }
        let existing = routes.firstIndex {
            guard let other = try? RouteSpec(payload: $0) else { return false }
            return other.destination == route.destination && other.table == route.table
                && (route.gateway == nil || other.gateway == route.gateway)
                && (route.outputIndex == nil || other.outputIndex == route.outputIndex)
        }
        if adding {
            if let existing, message.flags.contains(.exclusive) || message.flags.contains(.replace) {
                if message.flags.contains(.exclusive) { return 17 }
                routes[existing] = message.payload
                return 0
            }
            routes.append(message.payload)
        } else {
            guard let existing else { return 3 }  // ESRCH
            routes.remove(at: existing)
        }
        return 0
    }
}
