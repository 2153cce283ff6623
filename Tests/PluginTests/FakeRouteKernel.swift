import Netlink

/// A route netlink kernel played by the test: links and qdiscs with just enough state for a
/// plugin's flow, every request recorded (`new qdisc 5 tbf`), and any request made to fail.
final class FakeRouteKernel: NetlinkTransport {
    struct FakeLink {
        var index: Int32
        var name: String
        var kind: String
        var mtu: UInt32 = 1500
        var linkIndex: Int32?
        var up = false
    }

    let portID: UInt32 = 6262
    private(set) var links: [FakeLink]
    private(set) var qdiscs: [(index: Int32, parent: UInt32, kind: String, payload: [UInt8])] = []
    private(set) var log: [String] = []
    /// Returns an errno to make the request fail (checked before it is applied).
    var fail: (_ entry: String) -> Int32? = { _ in nil }
    private var nextIndex: Int32 = 100
    private var queue: [[UInt8]] = []

    init(links: [FakeLink]) { self.links = links }

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
        case .getLink, .newLink, .delLink, .setLink:
            let attributes = try AttributeReader.read(p.dropFirst(16))
            let name = attributes.first { $0.type == 3 }?.string
            return try links(message, index: Self.int32(p, 4), name: name, attributes)
        case .newQdisc, .delQdisc:
            let attributes = try AttributeReader.read(p.dropFirst(20))
            let kind: String = attributes.first { $0.type == 1 }?.string ?? ""
            let index = Self.int32(p, 4), parent = UInt32(bitPattern: Self.int32(p, 12))
            let entry = "\(message.type == .newQdisc ? "new" : "del") qdisc \(index) \(kind)"
            if let errno = record(entry) { return [ack(message, errno)] }
            if message.type == .newQdisc {
                if qdiscs.contains(where: { $0.index == index && $0.parent == parent }) { return [ack(message, 17)] }
                qdiscs.append((index, parent, kind, p))
            } else {
                guard qdiscs.contains(where: { $0.index == index && $0.parent == parent }) else {
                    return [ack(message, 2)]
                }
                qdiscs.removeAll { $0.index == index && $0.parent == parent }
            }
            return [ack(message, 0)]
        case .getQdisc:
            return qdiscs.map {
                NetlinkMessage(
                    type: .newQdisc, flags: .multi, sequence: message.sequence, portID: portID, payload: $0.payload
                ).encoded()
            }
                + [
                    NetlinkMessage(
                        type: .done, flags: .multi, sequence: message.sequence, portID: portID, payload: [0, 0, 0, 0]
                    ).encoded()
                ]
        case .newFilter:
            let entry = "new filter \(Self.int32(p, 4))"
            return [ack(message, record(entry) ?? 0)]
        default:
            return [ack(message, 95)]  // EOPNOTSUPP
        }
    }

    private func record(_ entry: String) -> Int32? {
        log.append(entry)
        return fail(entry)
    }

    private func links(_ message: NetlinkMessage, index: Int32, name: String?, _ attributes: [Attribute])
        throws(NetlinkError) -> [[UInt8]]
    {
        let position = links.firstIndex {
            (index != 0 && $0.index == index) || (index == 0 && name != nil && $0.name == name)
        }
        switch message.type {
        case .getLink:
            guard let position else { return [ack(message, 19)] }
            return [reply(links[position], message.sequence)]
        case .newLink where index != 0:
            // `ip link set` sends RTM_NEWLINK for an existing index.
            guard let position else { return [ack(message, 19)] }
            if let errno = record("set link \(links[position].name)") { return [ack(message, errno)] }
            links[position].up = Self.int32(message.payload, 8) & 1 == 1 || links[position].up
        case .newLink:
            guard let name else { return [ack(message, 22)] }
            let kind = (try? attributes.first { $0.type == 18 }?.nested().first { $0.type == 1 }?.string) ?? ""
            if let errno = record("new link \(name) \(kind)") { return [ack(message, errno)] }
            if links.contains(where: { $0.name == name }) { return [ack(message, 17)] }
            nextIndex += 1
            links.append(FakeLink(index: nextIndex, name: name, kind: kind))
        case .setLink:
            guard let position else { return [ack(message, 19)] }
            if let errno = record("set link \(links[position].name)") { return [ack(message, errno)] }
            links[position].up = Self.int32(message.payload, 8) & 1 == 1 || links[position].up
        default:
            guard let position else { return [ack(message, 19)] }
            if let errno = record("del link \(links[position].name)") { return [ack(message, errno)] }
            qdiscs.removeAll { $0.index == links[position].index }
            links.remove(at: position)
        }
        return [ack(message, 0)]
    }

    private func reply(_ link: FakeLink, _ seq: UInt32) -> [UInt8] {
        var w = AttributeWriter()
        w.header(
            [0, 0, 1, 0] + AttributeWriter.encode(link.index) + AttributeWriter.encode(UInt32(link.up ? 1 : 0))
                + AttributeWriter.encode(UInt32(0)))
        w.string(RawAttribute(rawValue: 3), link.name)
        w.u32(RawAttribute(rawValue: 4), link.mtu)
        w.bytes(RawAttribute(rawValue: 1), [2, 0, 0, 0, 0, UInt8(truncatingIfNeeded: link.index)])
        if let peer = link.linkIndex { w.u32(RawAttribute(rawValue: 5), UInt32(bitPattern: peer)) }
        w.nested(RawAttribute(rawValue: 18)) { $0.string(RawAttribute(rawValue: 1), link.kind) }
        return NetlinkMessage(type: .newLink, flags: [], sequence: seq, portID: portID, payload: w.bytes).encoded()
    }

    private func ack(_ message: NetlinkMessage, _ errno: Int32) -> [UInt8] {
        message.fakeAnswer(errno: errno, port: portID)
    }
}
