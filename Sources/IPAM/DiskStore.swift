import Glibc
import CNISkeleton
import CNISystem

/// Who holds a reservation: the file content `<containerID>\r\n<ifname>`, or just the
/// container ID in files written by old reference releases.
public struct Owner: Sendable, Hashable {
    public var containerID: String
    /// nil for the old single-line format.
    public var ifname: String?

    public init(containerID: String, ifname: String?) {
        self.containerID = containerID
        self.ifname = ifname
    }

    /// Parses file content the way the reference compares it (whitespace-trimmed).
    init(content: [UInt8]) {
        let bytes = Array(String(decoding: content, as: UTF8.self).trimmingASCIIWhitespace().utf8)
        if let split = bytes.indices.first(where: { $0 + 1 < bytes.count && bytes[$0] == 0x0d && bytes[$0 + 1] == 0x0a }
        ) {
            self.init(
                containerID: String(decoding: bytes[..<split], as: UTF8.self),
                ifname: String(decoding: bytes[(split + 2)...], as: UTF8.self))
        } else {
            self.init(containerID: String(decoding: bytes, as: UTF8.self), ifname: nil)
        }
    }

    var fileContent: [UInt8] { Array((containerID.trimmingASCIIWhitespace() + "\r\n" + (ifname ?? "")).utf8) }

    /// Whether this holder (read from a file) is `owner`, or is its container in the old
    /// single-line format, which names no interface.
    func answers(_ owner: Owner) -> Bool {
        self == owner || (ifname == nil && containerID == owner.containerID)
    }
}

/// The host-local state directory, byte-compatible with the reference's `disk.Store`:
/// `<dataDir>/<network>/<ip>` files holding `<id>\r\n<ifname>`, `last_reserved_ip.<set>`, and
/// an exclusive `flock` on `lock`, held for this object's lifetime.
///
/// Beyond the reference:
/// - a reservation appears atomically (written to a temp file, then `link`ed into place), so a
///   crash never leaves an empty or partial file;
/// - `.swift-cni/index` caches every file's holder, stamped with the directory's inode and
///   mtime, so ADD and DEL read one file instead of every reservation. Any change the stamp
///   does not explain (the reference plugin at work, a crash) triggers a rebuild from the
///   files; CHECK and GC always check the cache against the directory listing, and DEL reads
///   each file it removes first, so it never removes one that names another holder.
/// - The stamp is the index's last line, appended with the entries (or, on DEL, the release
///   lines) in one write: nothing is renamed on ADD or DEL (ext4 flushes a file renamed over
///   another, 0.25-1 ms), and the stamp can only be on disk when the lines before it are.
public final class DiskStore {
    public let directory: String
    private let state: StateDirectory
    /// nil when `.swift-cni` cannot be used as a real directory (a planted symlink, say):
    /// everything then works from the reservation files alone.
    private let cache: StateDirectory?
    private let lockFD: Int32
    private var index = ReservationIndex()
    private var appended: [UInt8] = []
    private var rewrite = false
    private var changed = false
    /// How many stamp lines the index file holds: past `stampsBeforeCompaction`, the next save
    /// rewrites it without them and without the entries released since.
    private var stamps = 0
    public static let stampsBeforeCompaction = 256
    /// Whether the cache was compared with the directory listing since it was loaded.
    private var comparedWithListing = false

    static let lockName = "lock"
    static let lastReservedPrefix = "last_reserved_ip."
    static let cacheName = ".swift-cni"

    /// Opens (creating if needed) `<dataDir>/<network>`, takes its lock and loads the cache.
    /// `verify` compares the cache with the directory listing even when the stamp matches.
    public init(dataDir: String, network: String, verify: Bool = false) throws(CNIError) {
        guard !network.isEmpty, !network.contains("/"), network != ".", network != ".." else {
            throw .invalidConfig("network name \"\(network)\" cannot name a directory under ipam.dataDir")
        }
        if FileSystem.existsAsNonDirectory(dataDir) {
            throw .invalidConfig("ipam.dataDir \"\(dataDir)\" is not a directory")
        }
        directory = (dataDir.hasSuffix("/") ? String(dataDir.dropLast()) : dataDir) + "/" + network
        do {
            state = try StateDirectory(directory)
        } catch {
            throw .invalidConfig("ipam.dataDir \"\(dataDir)\": \(error)")
        }
        do { lockFD = try state.lock(DiskStore.lockName) } catch { throw CNIError(.internalError, "\(error)") }
        do {
            cache = try state.subdirectory(DiskStore.cacheName)
        } catch {
            cache = nil
            ProcessEnvironment().writeStderr("host-local: not using the cache: \(error)\n")
        }
        sweepTemporaries()
        try load(verify: verify)
    }

    deinit { close(lockFD) }

    /// Every reservation and its holder.
    public var reservations: [IPAddress: Owner] {
        var out: [IPAddress: Owner] = [:]
        for entry in index.entries { if let ip = IPAddress(entry.ip) { out[ip] = entry.owner } }
        return out
    }

    /// The IPs held by `owner`, or by its bare container ID when none match exactly (as the
    /// reference matches old-format files).
    public func addresses(of owner: Owner) -> [IPAddress] {
        var found = index.addresses(heldBy: owner)
        if found.isEmpty { found = index.addresses(heldBy: Owner(containerID: owner.containerID, ifname: nil)) }
        return found.compactMap(IPAddress.init).sorted()
    }

    /// Reserves `ip` for `owner`; false when it is taken. `setIndex` names the
    /// `last_reserved_ip` file to update.
    public func reserve(_ ip: IPAddress, for owner: Owner, setIndex: Int) throws(CNIError) -> Bool {
        let name = ip.description
        // The temporary lives beside the reservation when there is no cache directory.
        let scratch = cache ?? state
        let temporary = (cache == nil ? ".swift-cni-r." : "r.") + "\(getpid()).\(name)"
        do {
            try scratch.remove(temporary)
            try scratch.create(temporary, owner.fileContent)
            defer { try? scratch.remove(temporary) }
            // link() fails with EEXIST when the address is taken: the same guarantee as the
            // reference's O_EXCL, but the file appears with its content already complete.
            guard try scratch.link(temporary, to: name, in: state) else { return false }
            index.append(ip: name, owner: owner)
            appended += ReservationIndex.line(ip: name, owner: owner)
            changed = true
            // With a cache, every temporary lives there, so ADD never lists the reservations.
            try state.overwrite(
                DiskStore.lastReservedPrefix + String(setIndex), Array(name.utf8),
                temporary: (cache == nil ? ".swift-cni-l." : "l.") + "\(getpid())", in: cache)
            return true
        } catch {
            throw CNIError(.internalError, "failed to reserve \(ip): \(error)")
        }
    }

    /// Removes the reservations of `ips`; files already gone are fine. With `owner`, a file
    /// that holds someone else stays, as the reference removes only files naming the ID: the
    /// reference plugin may have handed the address to another container behind the cache's
    /// back, and the cache is corrected instead.
    /// Returns whether such a file was found (the cache was wrong).
    @discardableResult
    public func release(_ ips: [IPAddress], heldBy owner: Owner? = nil) throws(CNIError) -> Bool {
        guard !ips.isEmpty else { return false }
        var failures: [String] = []
        var misattributed = false
        for name in Set(ips.map(\.description)).sorted() {
            if let owner, let content = try? state.read(name), !Owner(content: content).answers(owner) {
                record(release: name, then: Owner(content: content))
                misattributed = true
                continue
            }
            do { try state.remove(name) } catch { failures.append("\(error)") }
            record(release: name)
        }
        changed = true
        if !failures.isEmpty { throw CNIError(.internalError, failures.joined(separator: ";")) }
        return misattributed
    }

    /// DEL's release of everything `owner` holds, trusting the cache only while it agrees
    /// with the files: when it names fewer addresses than `expected` (one per range set), the
    /// listing is checked; when a file it names holds someone else, every file is read again.
    public func releaseAll(of owner: Owner, expected: Int = 1) throws(CNIError) {
        var held = addresses(of: owner)
        if held.count < max(expected, 1) {
            try recheck()
            held = addresses(of: owner)
        }
        guard try release(held, heldBy: owner) else { return }
        try rescan()
        try release(addresses(of: owner), heldBy: owner)
    }

    /// A release line for `name` (and an entry for its real holder), appended with the stamp
    /// like an ADD's entries: no rewrite.
    private func record(release name: String, then holder: Owner? = nil) {
        index.appendRelease(ip: name)
        appended += ReservationIndex.releaseLine(ip: name)
        guard let holder else { return }
        index.append(ip: name, owner: holder)
        appended += ReservationIndex.line(ip: name, owner: holder)
    }

    /// The last address handed out from range set `setIndex`, if recorded.
    public func lastReserved(setIndex: Int) -> IPAddress? {
        guard let bytes = try? state.read(DiskStore.lastReservedPrefix + String(setIndex)) else { return nil }
        return IPAddress(String(decoding: bytes, as: UTF8.self).trimmingASCIIWhitespace())
    }

    /// Compares the cache with the directory listing now, as `verify` does at opening (DEL
    /// uses this when the cache names nothing for its attachment).
    public func recheck() throws(CNIError) {
        guard !comparedWithListing else { return }
        try rebuild(reuse: index)
    }

    /// Re-reads every reservation file, ignoring the cache (GC uses this).
    public func rescan() throws(CNIError) {
        try rebuild(reuse: ReservationIndex())
    }

    /// Saves the cache and its stamp. Call before the lock is released. Failing to save costs
    /// speed on the next run (a rebuild), never correctness, so errors are ignored.
    public func commit() {
        guard changed, let cache else { return }
        if stamps >= DiskStore.stampsBeforeCompaction { rewrite = true }
        let entries = rewrite ? index.compacted : index
        let count = rewrite ? 1 : stamps + 1
        // No stamp (the directory cannot be read) leaves an index the next run rebuilds.
        let stamp = directoryStamp().map { ReservationIndex.stampLine(count: count, $0) } ?? []
        if rewrite {
            index = entries
            try? cache.replace("index", entries.bytes + stamp, temporary: "i.\(getpid())")
        } else {
            try? cache.append("index", appended + stamp)
        }
        stamps = count
        appended = []
        rewrite = false
        changed = false
    }
}

extension DiskStore {
    /// Inode and modification time of the state directory: any file added, removed or renamed
    /// there changes it.
    fileprivate func directoryStamp() -> String? {
        guard let info = state.status() else { return nil }
        return "\(info.st_ino) \(info.st_mtim.tv_sec) \(info.st_mtim.tv_nsec)"
    }

    /// Removes temporaries left by runs that were killed before cleaning up (`r.<pid>.<ip>`,
    /// `s.<pid>`, ... in the cache; `.swift-cni-*.<pid>` beside the reservations when there is no
    /// cache, and only then is that directory listed, so ADD stays independent of how many
    /// reservations exist). Every writer holds the lock we hold now, so a temporary whose
    /// process is gone is garbage.
    fileprivate func sweepTemporaries() {
        let places: [(StateDirectory, [String])] =
            cache.map { [($0, ["r.", "s.", "i.", "l."])] } ?? [(state, [".swift-cni-r.", ".swift-cni-l."])]
        for (dir, prefixes) in places { dir.removeStaleTemporaries(prefixes: prefixes) }
    }

    fileprivate func load(verify: Bool) throws(CNIError) {
        let stored = (try? cache?.read("index")).flatMap { $0 }.flatMap(ReservationIndex.init(stored:))
        let last = stored?.lastStamp
        stamps = last?.count ?? 0
        let current = last != nil && last?.stamp == directoryStamp()
        if let stored, !verify, current {
            index = stored
            return
        }
        // Not an index of this version: the separate stamp file of index v2 may be beside it.
        if stored == nil { try? cache?.remove("stamp") }
        // Holders are taken from the cache only when nobody else changed the directory since
        // it was saved: the reference plugin may have released an address and handed it to
        // another container, under the same file name.
        try rebuild(reuse: (current ? stored : nil) ?? ReservationIndex())
    }

    /// Builds the cache from the directory listing, reading only files `reuse` does not know.
    fileprivate func rebuild(reuse: ReservationIndex) throws(CNIError) {
        let names: [String]
        do { names = try state.list() } catch { throw CNIError(.internalError, "\(error)") }
        // The listing is made anyway: temporaries an older run (or a cacheless one) left beside
        // the reservations go now.
        for name in names
        where name.utf8.first == UInt8(ascii: ".")
            && StateDirectory.isStaleTemporary(name, prefixes: [".swift-cni-r.", ".swift-cni-l."])
        {
            try? state.remove(name)
        }
        let listed = names.filter {
            !$0.hasPrefix(".") && $0 != DiskStore.lockName && !$0.hasPrefix(DiskStore.lastReservedPrefix)
        }
        let (reconciled, differs) = reuse.reconciled(with: listed) { name in
            guard IPAddress(name) != nil, let content = try? state.read(name) else { return nil }
            return Owner(content: content)
        }
        index = reconciled
        // Unchanged entries keep the file as it is and only get a fresh stamp appended; an
        // empty one is written whole, so that the file starts with its header. A rewrite
        // already due (an earlier rebuild in this run) stays due: the file on disk is still
        // the old one.
        rewrite = rewrite || differs || reuse.isEmpty
        changed = true
        comparedWithListing = true
    }
}

extension String {
    /// Go's `strings.TrimSpace` for the ASCII whitespace reservation files can contain.
    func trimmingASCIIWhitespace() -> String {
        let bytes = Array(utf8)
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || ($0 >= 0x09 && $0 <= 0x0d) }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
