/// The cache of who holds which address: lines `<ip>\t<containerID>\t<ifname>\n` (ifname
/// `\u{1}` for old single-line reservation files), kept as raw bytes so ADD can search it
/// without parsing ten thousand entries. Each save ends it with a line
/// `#stamp <count> <directory stamp>`; only the last one counts, `count` says how many the
/// file holds.
struct ReservationIndex: Equatable {
    static let header = Array("# swift-cni host-local index v3: a cache of the reservation files beside it\n".utf8)
    static let oldFormat = "\u{1}"
    private static let stampPrefix = Array("#stamp ".utf8)

    private(set) var bytes: [UInt8]

    init() { bytes = ReservationIndex.header }

    /// Parses stored bytes; nil when they are not an index of this version.
    init?(stored: [UInt8]) {
        guard stored.starts(with: ReservationIndex.header),
            stored.last == 0x0a || stored.count == ReservationIndex.header.count
        else { return nil }
        bytes = stored
    }

    init(entries: [(ip: String, owner: Owner)]) {
        self.init()
        for entry in entries.sorted(by: { $0.ip < $1.ip }) { append(ip: entry.ip, owner: entry.owner) }
    }

    mutating func append(ip: String, owner: Owner) {
        bytes += ReservationIndex.line(ip: ip, owner: owner)
    }

    static func line(ip: String, owner: Owner) -> [UInt8] {
        Array("\(ip)\t\(owner.containerID)\t\(owner.ifname ?? oldFormat)\n".utf8)
    }

    static func stampLine(count: Int, _ stamp: String) -> [UInt8] {
        stampPrefix + Array("\(count) \(stamp)\n".utf8)
    }

    /// The last line's stamp and count, when the bytes end with a stamp line.
    var lastStamp: (count: Int, stamp: String)? {
        guard bytes.count > ReservationIndex.header.count, bytes.last == 0x0a else { return nil }
        let body = bytes[ReservationIndex.header.count..<(bytes.count - 1)]
        let start = (body.lastIndex(of: 0x0a) ?? (body.startIndex - 1)) + 1
        let line = bytes[start..<(bytes.count - 1)]
        guard line.starts(with: ReservationIndex.stampPrefix) else { return nil }
        let rest = line.dropFirst(ReservationIndex.stampPrefix.count)
        guard let space = rest.firstIndex(of: 0x20), let count = Int(String(decoding: rest[..<space], as: UTF8.self)),
            count >= 1
        else { return nil }
        return (count, String(decoding: rest[(space + 1)...], as: UTF8.self))
    }

    /// The same entries without their stamp lines.
    var withoutStamps: ReservationIndex {
        var out = ReservationIndex()
        var start = ReservationIndex.header.count
        while start < bytes.count, let end = bytes[start...].firstIndex(of: 0x0a) {
            if !bytes[start...end].starts(with: ReservationIndex.stampPrefix) { out.bytes += bytes[start...end] }
            start = end + 1
        }
        return out
    }

    /// Every entry, in file order.
    var entries: [(ip: String, owner: Owner)] {
        var out: [(ip: String, owner: Owner)] = []
        var start = ReservationIndex.header.count
        while start < bytes.count {
            guard let end = bytes[start...].firstIndex(of: 0x0a) else { break }
            let fields = bytes[start..<end].split(separator: 0x09, omittingEmptySubsequences: false)
            if fields.count == 3 {
                let ifname = String(decoding: fields[2], as: UTF8.self)
                out.append(
                    (
                        String(decoding: fields[0], as: UTF8.self),
                        Owner(
                            containerID: String(decoding: fields[1], as: UTF8.self),
                            ifname: ifname == ReservationIndex.oldFormat ? nil : ifname)
                    ))
            }
            start = end + 1
        }
        return out
    }

    /// The addresses whose line ends with `\t<id>\t<ifname>\n`, found by a byte search.
    func addresses(heldBy owner: Owner) -> [String] {
        let needle = Array("\t\(owner.containerID)\t\(owner.ifname ?? ReservationIndex.oldFormat)\n".utf8)
        var out: [String] = []
        var from = ReservationIndex.header.count
        while let hit = ReservationIndex.search(bytes, needle, from: from) {
            var lineStart = hit
            while lineStart > 0, bytes[lineStart - 1] != 0x0a { lineStart -= 1 }
            out.append(String(decoding: bytes[lineStart..<hit], as: UTF8.self))
            from = hit + needle.count
        }
        return out
    }

    private static func search(_ haystack: [UInt8], _ needle: [UInt8], from: Int) -> Int? {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        var i = from
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
