/// The cache of who holds which address, kept as raw bytes so ADD can search it without
/// parsing ten thousand entries. Lines, in the order they were written:
/// - `<ip>\t<containerID>\t<ifname>\n` reserves (ifname `\u{1}` for old single-line files);
/// - `-<ip>\n` releases the reservation of `<ip>` written before it;
/// - `#stamp <count> <directory stamp>\n` ends each save; only the last one counts, and
///   `count` says how many the file holds.
///
/// Releases are lines rather than a rewrite so that DEL appends to the file like ADD does:
/// writing a new file and renaming it over the old one cost DEL 0.6-1 ms (ext4 flushes a file
/// renamed over another). A rewrite drops released entries and old stamps (``compacted``).
struct ReservationIndex: Equatable {
    /// v4 added release lines: an older version, which would read a released entry as held,
    /// sees another version here and rebuilds from the reservation files instead.
    static let header = Array("# swift-cni host-local index v4: a cache of the reservation files beside it\n".utf8)
    static let oldFormat = "\u{1}"
    private static let stampPrefix = Array("#stamp ".utf8)
    private static let releaseMark = UInt8(ascii: "-")

    private(set) var bytes: [UInt8]

    init() { bytes = ReservationIndex.header }

    /// Parses stored bytes; nil when they are not an index of this version.
    init?(stored: [UInt8]) {
        guard stored.starts(with: ReservationIndex.header),
            stored.last == 0x0a || stored.count == ReservationIndex.header.count
        else { return nil }
        bytes = stored
    }

    mutating func append(ip: String, owner: Owner) {
        bytes += ReservationIndex.line(ip: ip, owner: owner)
    }

    mutating func appendRelease(ip: String) {
        bytes += ReservationIndex.releaseLine(ip: ip)
    }

    static func line(ip: String, owner: Owner) -> [UInt8] {
        Array("\(ip)\t\(owner.containerID)\t\(owner.ifname ?? oldFormat)\n".utf8)
    }

    static func releaseLine(ip: String) -> [UInt8] {
        [releaseMark] + Array("\(ip)\n".utf8)
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

    /// Whether it holds no line at all besides its header.
    var isEmpty: Bool { bytes.count == ReservationIndex.header.count }

    /// The reservation lines in force, in file order, and whether the file is damaged: a
    /// line that is no entry, release or stamp, or an address reserved twice without a release
    /// between. A damaged file is never kept as it is, so its addresses are read again.
    private var live: (lines: [(ip: String, line: ArraySlice<UInt8>)], damaged: Bool) {
        var lines: [(ip: String, line: ArraySlice<UInt8>)?] = []
        var position: [String: Int] = [:]
        var damaged = false
        var start = ReservationIndex.header.count
        while start < bytes.count, let end = bytes[start...].firstIndex(of: 0x0a) {
            let line = bytes[start...end]
            start = end + 1
            if line.first == ReservationIndex.releaseMark {
                let ip = String(decoding: line.dropFirst().dropLast(), as: UTF8.self)
                if let at = position.removeValue(forKey: ip) { lines[at] = nil }
            } else if !line.starts(with: ReservationIndex.stampPrefix) {
                // An entry has exactly three fields; anything else is damage, not an entry.
                guard line.lazy.filter({ $0 == 0x09 }).count == 2, let tab = line.firstIndex(of: 0x09) else {
                    damaged = true
                    continue
                }
                let ip = String(decoding: line[..<tab], as: UTF8.self)
                if let at = position[ip] { (lines[at], damaged) = (nil, true) }
                position[ip] = lines.count
                lines.append((ip, line))
            }
        }
        return (lines.compactMap { $0 }, damaged)
    }

    /// The reservations in force only: no release line, no entry released, no stamp.
    var compacted: ReservationIndex {
        var out = ReservationIndex()
        for entry in live.lines { out.bytes += entry.line }
        return out
    }

    /// The index made to agree with the reservation files `listing` names. When the
    /// addresses in force are exactly those files, it is returned as it is (`changed` false,
    /// so the file is kept and only stamped). Otherwise it is compacted without the entries
    /// whose file is gone, plus each listed file it lacks, in name order, with the holder
    /// `holder` reads from it (nil: not a reservation).
    ///
    /// Only the address fields are compared: DEL runs this with every reservation of the
    /// node listed, so no line is parsed further and nothing else is sorted.
    func reconciled(with listing: [String], holder: (String) -> Owner?) -> (index: ReservationIndex, changed: Bool) {
        let listed = Set(listing)
        let (lines, damaged) = live
        let kept = lines.filter { listed.contains($0.ip) }
        let known = Set(kept.map(\.ip))
        var added: [(ip: String, owner: Owner)] = []
        for name in listing.filter({ !known.contains($0) }).sorted() {
            if let owner = holder(name) { added.append((name, owner)) }
        }
        guard damaged || kept.count != lines.count || !added.isEmpty else { return (self, false) }
        var out = ReservationIndex()
        out.bytes.reserveCapacity(bytes.count)
        for entry in kept { out.bytes += entry.line }
        for entry in added { out.append(ip: entry.ip, owner: entry.owner) }
        return (out, true)
    }

    /// Every reservation in force, in file order.
    var entries: [(ip: String, owner: Owner)] {
        live.lines.compactMap { entry in
            let fields = entry.line.dropLast().split(separator: 0x09, omittingEmptySubsequences: false)
            guard fields.count == 3 else { return nil }
            let ifname = String(decoding: fields[2], as: UTF8.self)
            return (
                entry.ip,
                Owner(
                    containerID: String(decoding: fields[1], as: UTF8.self),
                    ifname: ifname == ReservationIndex.oldFormat ? nil : ifname)
            )
        }
    }

    /// The addresses whose line ends with `\t<id>\t<ifname>\n` and that no later line
    /// releases, found by byte searches.
    func addresses(heldBy owner: Owner) -> [String] {
        let needle = Array("\t\(owner.containerID)\t\(owner.ifname ?? ReservationIndex.oldFormat)\n".utf8)
        var out: [String] = []
        var from = ReservationIndex.header.count
        while let hit = ReservationIndex.search(bytes, needle, from: from) {
            var lineStart = hit
            while lineStart > 0, bytes[lineStart - 1] != 0x0a { lineStart -= 1 }
            from = hit + needle.count
            let ip = bytes[lineStart..<hit]
            let release = [0x0a, ReservationIndex.releaseMark] + ip + [0x0a]
            if ReservationIndex.search(bytes, release, from: from - 1) == nil {
                out.append(String(decoding: ip, as: UTF8.self))
            }
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
