import Netlink

/// A route netlink kernel played by the test: one network namespace with links, addresses,
/// routes and qdiscs, just enough state for a plugin's flow. Every request that changes
/// something is recorded as a short line (`new link veth1 veth`, `new addr eth0 10.1.2.5/24`),
/// and any of them can be made to fail. Namespaces are joined by fake nsfs descriptors:
/// a veth peer or a link sent to `IFLA_NET_NS_FD` n appears in `namespaces[n]`.
/// The changes of several fake namespaces, in the order they happened.
final class FakeJournal {
    var entries: [String] = []
    /// How many more changes the plugin may make before it "dies": every change after that
    /// fails (as nothing reaches a kernel from a dead process, its own rollback included).
    var budget: Int? = nil

    /// Whether one more change may go through.
    func allow() -> Bool {
        guard let left = budget else { return true }
        if left == 0 { return false }
        budget = left - 1
        return true
    }
}

final class FakeRouteKernel: NetlinkTransport {
    struct FakeLink {
        var index: Int32
        var name: String
        var kind: String
        var mtu: UInt32 = 1500
        var linkIndex: Int32?
        var up = false
        var master: Int32?
        var mac: [UInt8]? = nil
        var flags: UInt32 = 0
        /// Bridge VLANs of a port, as `bridge vlan show` lists them (`100 pvid untagged`).
        var vlans: [String] = []
        /// `IFLA_LINKINFO` as created (kind and data), answered back as it came.
        var info: [UInt8]? = nil
        /// The other end of a veth, in whichever fake namespace holds it.
        var peer: (kernel: FakeRouteKernel, index: Int32)? = nil
        /// IPv4 settings set over netlink (`IPV4_DEVCONF_*` number: value), answered back in
        /// `IFLA_AF_SPEC` as the kernel's `IFLA_INET_CONF` array.
        var ipv4: [UInt16: UInt32] = [:]
    }

    let portID: UInt32 = 6262
    let name: String
    var links: [FakeLink]
    private(set) var qdiscs: [(index: Int32, parent: UInt32, kind: String, payload: [UInt8])] = []
    /// Address and route requests as sent (`RTM_NEWADDR` / `RTM_NEWROUTE` payloads), answered
    /// back in dumps.
    var addresses: [[UInt8]] = []
    var routes: [[UInt8]] = []
    /// Everything that changed, in order; shared by the namespaces of one test when given.
    private(set) var log: [String] = []
    /// Returns an errno to make the request fail (checked before it is applied).
    var fail: (_ entry: String) -> Int32? = { _ in nil }
    /// Where the changes of several namespaces are recorded together, in order.
    var journal: FakeJournal?
    /// Fake nsfs descriptors: where links sent to `IFLA_NET_NS_FD` go.
    var namespaces: [Int32: FakeRouteKernel] = [:]
    private var nextIndex: Int32 = 100
    private var queue: [[UInt8]] = []

    init(_ name: String = "host", links: [FakeLink], firstIndex: Int32 = 100) {
        self.name = name
        self.links = links
        nextIndex = firstIndex
    }

    func send(_ bytes: [UInt8]) throws(NetlinkError) {
        for message in try NetlinkMessage.parse(bytes) { queue += try answer(message) }
    }

    func receive() throws(NetlinkError) -> [UInt8] {
        guard !queue.isEmpty else { throw NetlinkError(kind: .system, operation: "recv", errno: .interrupted) }
        return queue.removeFirst()
    }

    static func int32(_ p: [UInt8], _ offset: Int) -> Int32 {
        p.count >= offset + 4 ? p[offset..<offset + 4].reversed().reduce(Int32(0)) { $0 << 8 | Int32($1) } : 0
    }

    private func answer(_ message: NetlinkMessage) throws(NetlinkError) -> [[UInt8]] {
        let p = message.payload
        switch message.type {
        case .getLink where message.flags.contains(.dump):
            return links.map { reply($0, message.sequence, multi: true) } + [done(message)]
        case .getLink, .newLink, .delLink, .setLink:
            let attributes = try AttributeReader.read(p.dropFirst(16))
            return [try linkRequest(message, index: Self.int32(p, 4), attributes)]
        case .newAddress, .delAddress, .getAddress, .newRoute, .delRoute, .getRoute:
            return try addressOrRoute(message)
        case .newQdisc, .delQdisc:
            return [try qdisc(message)]
        case .getQdisc:
            return qdiscs.map {
                NetlinkMessage(
                    type: .newQdisc, flags: .multi, sequence: message.sequence, portID: portID, payload: $0.payload
                ).encoded()
            } + [done(message)]
        case .newFilter:
            let entry = "new filter \(Self.int32(p, 4))"
            return [ack(message, record(entry) ?? 0)]
        default:
            return [ack(message, 95)]  // EOPNOTSUPP
        }
    }

    private func qdisc(_ message: NetlinkMessage) throws(NetlinkError) -> [UInt8] {
        let p = message.payload
        let attributes = try AttributeReader.read(p.dropFirst(20))
        let kind: String = attributes.first { $0.type == 1 }?.string ?? ""
        let index = Self.int32(p, 4), parent = UInt32(bitPattern: Self.int32(p, 12))
        let entry = "\(message.type == .newQdisc ? "new" : "del") qdisc \(index) \(kind)"
        if let errno = record(entry) { return ack(message, errno) }
        let exists = qdiscs.contains { $0.index == index && $0.parent == parent }
        if message.type == .newQdisc {
            if exists { return ack(message, 17) }
            qdiscs.append((index, parent, kind, p))
        } else {
            guard exists else { return ack(message, 2) }
            qdiscs.removeAll { $0.index == index && $0.parent == parent }
        }
        return ack(message, 0)
    }

    /// Records `entry`; returns the errno the test wants it to fail with, if any.
    func record(_ entry: String) -> Int32? {
        if let journal, !journal.allow() { return 5 }  // EIO: the process is gone
        log.append(entry)
        journal?.entries.append("\(name): \(entry)")
        return fail(entry)
    }

    func position(index: Int32, name: String?) -> Int? {
        links.firstIndex { (index != 0 && $0.index == index) || (index == 0 && name != nil && $0.name == name) }
    }

    /// Adds a link made elsewhere (a veth peer, a moved link) under a fresh index.
    func adopt(_ link: FakeLink) -> Int32 {
        nextIndex += 1
        var link = link
        link.index = nextIndex
        links.append(link)
        return nextIndex
    }

    /// Removes a link with its addresses, routes and qdiscs; a veth takes its peer along.
    func remove(at position: Int) {
        let link = links.remove(at: position)
        qdiscs.removeAll { $0.index == link.index }
        addresses.removeAll { Self.int32($0, 4) == link.index }
        routes.removeAll { (try? RouteSpec(payload: $0))?.outputIndex == link.index }
        if let peer = link.peer, let other = peer.kernel.links.firstIndex(where: { $0.index == peer.index }) {
            peer.kernel.links[other].peer = nil
            peer.kernel.remove(at: other)
        }
    }

    func reply(_ link: FakeLink, _ seq: UInt32, multi: Bool = false) -> [UInt8] {
        var w = AttributeWriter()
        let flags = (link.up ? UInt32(1 | 0x40) : 0) | link.flags
        w.header(
            [0, 0, 1, 0] + AttributeWriter.encode(link.index) + AttributeWriter.encode(flags)
                + AttributeWriter.encode(UInt32(0)))
        w.string(RawAttribute(rawValue: 3), link.name)
        w.u32(RawAttribute(rawValue: 4), link.mtu)
        w.bytes(
            RawAttribute(rawValue: 1),
            link.mac ?? [
                2, 0, 0, 0, UInt8(truncatingIfNeeded: link.index >> 8),
                UInt8(truncatingIfNeeded: link.index),
            ])
        if let peer = link.linkIndex { w.u32(RawAttribute(rawValue: 5), UInt32(bitPattern: peer)) }
        if let master = link.master { w.u32(RawAttribute(rawValue: 10), UInt32(bitPattern: master)) }
        // IF_OPER_UP (6) once up, as a veth with a live peer reports it.
        w.bytes(RawAttribute(rawValue: 16), [link.up ? 6 : 2])
        if let info = link.info {
            w.bytes(RawAttribute(rawValue: 18), info)
        } else {
            w.nested(RawAttribute(rawValue: 18)) { $0.string(RawAttribute(rawValue: 1), link.kind) }
        }
        if !link.ipv4.isEmpty {
            let conf = (1...33).flatMap { AttributeWriter.encode(link.ipv4[UInt16($0)] ?? 0) }
            w.nested(RawAttribute(rawValue: 26)) { spec in
                spec.nested(RawAttribute(rawValue: 2)) { $0.bytes(RawAttribute(rawValue: 1), conf) }
            }
        }
        return NetlinkMessage(
            type: .newLink, flags: multi ? .multi : [], sequence: seq, portID: portID, payload: w.bytes
        ).encoded()
    }

    func done(_ message: NetlinkMessage) -> [UInt8] {
        NetlinkMessage(type: .done, flags: .multi, sequence: message.sequence, portID: portID, payload: [0, 0, 0, 0])
            .encoded()
    }

    func ack(_ message: NetlinkMessage, _ errno: Int32) -> [UInt8] {
        message.fakeAnswer(errno: errno, port: portID)
    }
}
