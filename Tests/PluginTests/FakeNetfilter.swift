import CNISystem
import Netlink

@testable import Netfilter

/// A netfilter kernel played by the test, with state: tables, chains and their rules, built
/// from the batches a plugin sends, so that later listings answer with what is there. Every
/// operation is recorded as a short line (`add rule ip cni_hostport hostports "ctr1"`).
final class FakeNetfilter: NetlinkTransport {
    let portID: UInt32 = 5151
    var log: [String] = []
    private(set) var batches = 0
    /// chain key ("family table chain") -> rules (raw NEWRULE messages with their handles).
    var chains: [String: [(handle: UInt64, message: NetlinkMessage, comment: String?)]] = [:]
    /// set key ("family table set") -> elements in the order they came.
    var sets: [String: [FakeElement]] = [:]
    private var nextHandle: UInt64 = 1
    var queue: [[UInt8]] = []

    static let subsystem: UInt16 = 10 << 8

    func send(_ bytes: [UInt8]) throws(NetlinkError) {
        let messages = try NetlinkMessage.parse(bytes)
        if messages.first?.type.rawValue == 0x10 { batches += 1 }
        for message in messages {
            let type = message.type.rawValue
            guard type & 0xff00 == Self.subsystem else { continue }
            let (family, attributes) = try Self.decode(message)
            switch type & 0xff {
            case 7: queue += dump(family, attributes, message.sequence)
            case 1, 4:
                // GETTABLE, GETCHAIN: ENOENT unless the table (a chain of it) or the chain exists.
                let table = Self.string(attributes, 1), chain = Self.string(attributes, 3)
                let found = chains.keys.contains {
                    type & 0xff == 4 ? $0 == "\(family) \(table) \(chain)" : $0.hasPrefix("\(family) \(table) ")
                }
                queue.append(ack(message, errno: found ? 0 : 2))
            case 13: queue += getElements(family, attributes, message)
            default:
                let errno = apply(type & 0xff, family, attributes, message)
                if message.flags.contains(.ack) { queue.append(ack(message, errno: errno)) }
            }
        }
    }

    func receive() throws(NetlinkError) -> [UInt8] {
        guard !queue.isEmpty else { throw NetlinkError(kind: .system, operation: "recv", errno: .interrupted) }
        return queue.removeFirst()
    }

    /// The rules' comments in a chain, in order.
    func comments(_ family: UInt8, _ table: String, _ chain: String) -> [String?] {
        (chains["\(family) \(table) \(chain)"] ?? []).map(\.comment)
    }

    static func decode(_ message: NetlinkMessage) throws(NetlinkError) -> (UInt8, [Attribute]) {
        (message.payload.first ?? 0, try AttributeReader.read(message.payload.dropFirst(4)))
    }

    static func string(_ attributes: [Attribute], _ type: UInt16) -> String {
        attributes.first { $0.type == type }?.string ?? ""
    }

    private func apply(_ operation: UInt16, _ family: UInt8, _ attributes: [Attribute], _ message: NetlinkMessage)
        -> Int32
    {
        let table = Self.string(attributes, 1)
        switch operation {
        case 0:
            log.append("add table \(family) \(table)")
        case 3:
            let name = Self.string(attributes, 3)
            log.append("add chain \(family) \(table) \(name)")
            chains["\(family) \(table) \(name)", default: []] += []
        case 6:
            let chain = Self.string(attributes, 2)
            guard chains["\(family) \(table) \(chain)"] != nil else { return 2 }
            let comment = NFTClient.decodeRule(message)?.comment
            log.append("add rule \(family) \(table) \(chain) \(comment ?? "-")")
            chains["\(family) \(table) \(chain)"]?.append((nextHandle, message, comment))
            nextHandle += 1
        case 8:
            let chain = Self.string(attributes, 2)
            let key = "\(family) \(table) \(chain)"
            guard
                let handle = attributes.first(where: { $0.type == 3 })?.payload.reduce(
                    UInt64(0), { $0 << 8 | UInt64($1) })
            else {
                log.append("flush chain \(family) \(table) \(chain)")
                chains[key] = chains[key].map { _ in [] }
                return 0
            }
            guard chains[key]?.contains(where: { $0.handle == handle }) == true else { return 2 }
            log.append("delete rule \(family) \(table) \(chain) \(handle)")
            chains[key]?.removeAll { $0.handle == handle }
        case 9, 12, 14:
            return applySet(operation, family, attributes)
        default:
            log.append("operation \(operation)")
        }
        return 0
    }

    /// The rules of the chain a GETRULE names, each with its handle, then DONE; ENOENT when the
    /// chain does not exist.
    private func dump(_ family: UInt8, _ attributes: [Attribute], _ seq: UInt32) -> [[UInt8]] {
        let key = "\(family) \(Self.string(attributes, 1)) \(Self.string(attributes, 2))"
        guard let rules = chains[key] else {
            return [
                NetlinkMessage(
                    type: .error, flags: [], sequence: seq, portID: portID,
                    payload: AttributeWriter.encode(Int32(-2)) + [UInt8](repeating: 0, count: 16)
                ).encoded()
            ]
        }
        var out: [[UInt8]] = []
        for rule in rules {
            var writer = AttributeWriter()
            writer.header(rule.message.payload)
            writer.bytes(RawAttribute(rawValue: 3), withUnsafeBytes(of: rule.handle.bigEndian) { Array($0) })
            out.append(
                NetlinkMessage(
                    type: rule.message.type, flags: .multi, sequence: seq, portID: portID, payload: writer.bytes
                ).encoded())
        }
        out.append(
            NetlinkMessage(
                type: .done, flags: .multi, sequence: seq, portID: portID, payload: AttributeWriter.encode(Int32(0))
            ).encoded())
        return out
    }

    private func ack(_ message: NetlinkMessage, errno: Int32) -> [UInt8] {
        message.fakeAnswer(errno: errno, port: portID)
    }
}

extension NetfilterDeletions {
    /// No mark file: nothing a test runs touches the node's, and no deletion is ever recent.
    static let unmarked = NetfilterDeletions(path: "")
}
