import CNISkeleton
import CNISystem
import Glibc

/// The daemon's leases on disk: one root-only file per lease in the state directory, written
/// atomically at every grant and renewal and removed on release, so that a daemon started
/// again (an upgrade, a crash, a node reboot with pods kept) takes the leases up again instead
/// of letting them run out under running pods. The reference's daemon keeps them in memory only.
struct LeaseStore: Sendable {
    /// `-statedir` (default `/var/lib/cni/dhcp`), under `-hostprefix`.
    let path: String

    /// One saved lease and what the daemon needs to keep it.
    struct Saved {
        var exchange: DHCPExchange
        var network: String
        var containerID: String
        var lease: DHCPLease
        /// When the lease was granted or last renewed, in seconds since the epoch.
        var obtainedWall: Double
        /// `NetworkNamespace.identity` of the netns it was granted in.
        var netnsIdentity: String
    }

    /// A saved lease is a few hundred bytes; anything much larger is not one.
    static let sizeLimit = 64 << 10

    /// `lease-<16 hex>.json`: a client ID holds `/` and may be 254 bytes, so the file is named
    /// by its FNV-1a hash; the file itself holds the ID.
    static func fileName(_ clientID: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in clientID.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let hex = String(hash, radix: 16)
        return "lease-" + String(repeating: "0", count: 16 - hex.count) + hex + ".json"
    }

    func save(_ record: LeaseRecord) throws {
        let e = record.exchange
        let object = JSONValue.object([
            ("clientID", .string(e.clientID)), ("network", .string(record.network)),
            ("containerID", .string(record.containerID)), ("netns", .string(e.netns)), ("ifname", .string(e.ifname)),
            ("requested", .string(Hex.encode(e.requested))),
            (
                "provided",
                .array(
                    e.provided.map {
                        .object([("code", .int(Int($0.code))), ("value", .string(Hex.encode($0.value)))])
                    })
            ),
            ("ack", .string(Hex.encode(record.lease.packet))),
            ("obtained", .number(JSONNumber(text: String(record.obtainedWall)))),
            ("netnsIdentity", .string(record.netnsIdentity)),
        ])
        let name = Self.fileName(e.clientID)
        let directory = try StateDirectory(path)
        try directory.replace(name, Array(JSONWriter.compact(object).utf8), temporary: ".lease.\(getpid()).\(name)")
    }

    func remove(_ clientID: String) {
        try? StateDirectory(path, create: false).remove(Self.fileName(clientID))
    }

    /// Every saved lease; files that do not read back as one are removed. Only a directory
    /// and files of the daemon's own user, writable by no one else, are trusted: a lease
    /// planted there would have the daemon enter a netns and send from its interface.
    func load(timing: DHCPTiming, broadcast: Bool, log: (String) -> Void) -> [Saved] {
        guard let directory = try? StateDirectory(path, create: false), let names = try? directory.list() else {
            return []
        }
        guard let info = directory.status(), info.st_uid == geteuid(), info.st_mode & 0o022 == 0 else {
            log("ignored the saved leases in \(path): the directory is not the daemon's alone")
            return []
        }
        // A daemon killed while saving leaves its temporary (`.lease.<pid>.<name>`).
        directory.removeStaleTemporaries(prefixes: [".lease."])
        var out: [Saved] = []
        for name in names where name.hasPrefix("lease-") && name.hasSuffix(".json") {
            if let bytes = Self.trustedContents(name, directory), let saved = Self.decode(bytes, timing, broadcast),
                name == Self.fileName(saved.exchange.clientID)
            {
                out.append(saved)
            } else {
                log("dropped \(name): not a saved lease")
                try? directory.remove(name)
            }
        }
        return out
    }

    /// The file's bytes when it is a regular file of ours, private, and small enough.
    private static func trustedContents(_ name: String, _ directory: StateDirectory) -> [UInt8]? {
        guard let fd = try? directory.open(name, flags: O_RDONLY) else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_uid == geteuid(), info.st_mode & 0o077 == 0,
            let read = try? FileIO.readAll(fd, limit: sizeLimit), read.total <= sizeLimit
        else { return nil }
        return read.bytes
    }

    static func decode(_ bytes: [UInt8], _ timing: DHCPTiming, _ broadcast: Bool) -> Saved? {
        guard let object = (try? JSONParser.parse(bytes))?.objectValue,
            let clientID = object["clientID"]?.stringValue, let network = object["network"]?.stringValue,
            let containerID = object["containerID"]?.stringValue, let netns = object["netns"]?.stringValue,
            let ifname = object["ifname"]?.stringValue,
            let requested = object["requested"]?.stringValue.flatMap(Hex.decode),
            let ackText = object["ack"]?.stringValue, let ackBytes = Hex.decode(ackText),
            let ack = DHCPMessage(bytes: ackBytes), let lease = try? DHCPLease(ack: ack),
            case .number(let stamp) = object["obtained"], let obtained = stamp.double, obtained.isFinite,
            case .array(let entries) = object["provided"],
            let netnsIdentity = object["netnsIdentity"]?.stringValue,
            // The ID is the one this attachment's ADD derives, so DEL and GC find the lease.
            clientID == DHCPExchange.clientID(containerID: containerID, network: network, ifname: ifname)
        else { return nil }
        var provided: [(code: UInt8, value: [UInt8])] = []
        for entry in entries {
            guard let option = entry.objectValue, case .number(let number) = option["code"],
                let code = number.int.flatMap({ UInt8(exactly: $0) }),
                let value = option["value"]?.stringValue.flatMap(Hex.decode)
            else { return nil }
            provided.append((code, value))
        }
        let exchange = DHCPExchange(
            netns: netns, ifname: ifname, clientID: clientID, requested: requested, provided: provided,
            timing: timing, broadcast: broadcast)
        return Saved(
            exchange: exchange, network: network, containerID: containerID, lease: lease, obtainedWall: obtained,
            netnsIdentity: netnsIdentity)
    }
}

/// Lower-case hex, for the bytes a saved lease holds.
enum Hex {
    static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes { out += [digits[Int(byte >> 4)], digits[Int(byte & 0xf)]] }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < chars.count {
            guard let high = nibble(chars[i]), let low = nibble(chars[i + 1]) else { return nil }
            out.append(high << 4 | low)
            i += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
}
