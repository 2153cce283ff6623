#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CNISkeleton

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
        if let split = bytes.indices.first(where: { $0 + 1 < bytes.count && bytes[$0] == 0x0d && bytes[$0 + 1] == 0x0a }) {
            self.init(containerID: String(decoding: bytes[..<split], as: UTF8.self),
                      ifname: String(decoding: bytes[(split + 2)...], as: UTF8.self))
        } else {
            self.init(containerID: String(decoding: bytes, as: UTF8.self), ifname: nil)
        }
    }

    var fileContent: [UInt8] { Array((containerID.trimmingASCIIWhitespace() + "\r\n" + (ifname ?? "")).utf8) }
}

/// The host-local state directory, byte-compatible with the reference's `disk.Store`:
/// `<dataDir>/<network>/<ip>` files, `last_reserved_ip.<set>`, and an exclusive `flock` on
/// `lock`, held for this object's lifetime.
///
/// Beyond the reference: reservations appear atomically (written to a temp file, then
/// `link`ed into place, so a crash never leaves an empty file), and an index under
/// `.swift-cni/` lets ADD avoid reading every reservation; the index is checked against the
/// directory listing each time, so files the reference plugin adds or removes are picked up.
public final class DiskStore {
    public let directory: String
    private let lockFD: Int32
    private let indexDirectory: String
    private var owners: [IPAddress: Owner] = [:]
    private var indexDirty = false

    static let lockName = "lock"
    static let lastReservedPrefix = "last_reserved_ip."
    static let indexName = ".swift-cni"

    /// Opens (creating if needed) `<dataDir>/<network>` and takes its lock.
    public init(dataDir: String, network: String) throws(CNIError) {
        guard !network.isEmpty, !network.contains("/"), network != ".", network != ".." else {
            throw .invalidConfig("network name \"\(network)\" cannot name a directory under ipam.dataDir")
        }
        if FileSystem.existsAsNonDirectory(dataDir) {
            throw .invalidConfig("ipam.dataDir \"\(dataDir)\" is not a directory")
        }
        directory = (dataDir.hasSuffix("/") ? String(dataDir.dropLast()) : dataDir) + "/" + network
        indexDirectory = directory + "/" + DiskStore.indexName
        do {
            try FileSystem.makeDirectories(directory)
        } catch {
            throw .invalidConfig("ipam.dataDir \"\(dataDir)\": \(error)")
        }
        let lockPath = directory + "/" + DiskStore.lockName
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CNIError(.internalError, "\(FileSystem.fail("open", lockPath))") }
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let failure = FileSystem.fail("flock", lockPath)
            close(fd)
            throw CNIError(.internalError, "\(failure)")
        }
        lockFD = fd
        try loadOwners()
    }

    deinit { close(lockFD) }

    /// Every reservation and its holder.
    public var reservations: [IPAddress: Owner] { owners }

    /// The IPs held by `owner`, or by its bare container ID when none match exactly (as the
    /// reference matches old-format files).
    public func addresses(of owner: Owner) -> [IPAddress] {
        let exact = owners.filter { $0.value == owner }.map(\.key)
        if !exact.isEmpty { return exact.sorted() }
        return owners.filter { $0.value == Owner(containerID: owner.containerID, ifname: nil) }.map(\.key).sorted()
    }

    /// Reserves `ip` for `owner`; false when it is taken. `setIndex` names the
    /// `last_reserved_ip` file to update.
    public func reserve(_ ip: IPAddress, for owner: Owner, setIndex: Int) throws(CNIError) -> Bool {
        if owners[ip] != nil { return false }
        let path = directory + "/" + ip.description
        let temporary = indexDirectory + "/r.\(getpid()).\(ip)"
        do {
            unlink(temporary)
            try FileSystem.create(temporary, owner.fileContent)
            defer { unlink(temporary) }
            // link() fails with EEXIST when the address is taken: the same guarantee as the
            // reference's O_EXCL, but the file appears with its content already complete.
            guard link(temporary, path) == 0 else {
                if errno == EEXIST { return false }
                throw FileSystem.fail("link", path)
            }
            owners[ip] = owner
            indexDirty = true
            try FileSystem.replace(directory + "/" + DiskStore.lastReservedPrefix + String(setIndex), Array(ip.description.utf8),
                                   temporary: indexDirectory + "/l.\(getpid())")
            return true
        } catch {
            throw CNIError(.internalError, "failed to reserve \(ip): \(error)")
        }
    }

    /// Removes the reservation of `ip`; a file already gone is fine.
    public func release(_ ip: IPAddress) throws(CNIError) {
        let path = directory + "/" + ip.description
        if unlink(path) != 0 && errno != ENOENT {
            throw CNIError(.internalError, "\(FileSystem.fail("remove", path))")
        }
        owners[ip] = nil
        indexDirty = true
    }

    /// The last address handed out from range set `setIndex`, if recorded.
    public func lastReserved(setIndex: Int) -> IPAddress? {
        guard let bytes = try? FileSystem.read(directory + "/" + DiskStore.lastReservedPrefix + String(setIndex)) else { return nil }
        return IPAddress(String(decoding: bytes, as: UTF8.self).trimmingASCIIWhitespace())
    }

    /// Writes the index if it changed. Call before the lock is released.
    public func commit() {
        guard indexDirty else { return }
        var text = DiskStore.indexHeader
        for (ip, owner) in owners.sorted(by: { $0.key < $1.key }) {
            text += "\(ip)\t\(owner.containerID)\t\(owner.ifname ?? "\u{1}")\n"
        }
        // The index is only a cache: failing to write it costs speed on the next run, not correctness.
        try? FileSystem.replace(indexDirectory + "/index", Array(text.utf8), temporary: indexDirectory + "/i.\(getpid())")
        indexDirty = false
    }

    /// Re-reads every reservation file, ignoring the index (GC uses this).
    public func rescan() throws(CNIError) {
        owners = [:]
        try loadOwners(trustIndex: false)
    }

    static let indexHeader = "# swift-cni host-local index v1: a cache of the reservation files beside it\n"
}

extension DiskStore {
    /// Loads the holders: from the index for names it knows, reading only files it does not.
    fileprivate func loadOwners(trustIndex: Bool = true) throws(CNIError) {
        let names: [String]
        do {
            try FileSystem.makeDirectories(indexDirectory)
            names = try FileSystem.list(directory)
        } catch {
            throw CNIError(.internalError, "\(error)")
        }
        let cached = trustIndex ? readIndex() : [:]
        var loaded: [IPAddress: Owner] = [:]
        for name in names where !name.hasPrefix(".") && name != DiskStore.lockName && !name.hasPrefix(DiskStore.lastReservedPrefix) {
            guard let ip = IPAddress(name) else { continue }
            if let owner = cached[ip] {
                loaded[ip] = owner
            } else if let content = try? FileSystem.read(directory + "/" + name) {
                loaded[ip] = Owner(content: content)
            }
        }
        if loaded != cached { indexDirty = true }
        owners = loaded
    }

    private func readIndex() -> [IPAddress: Owner] {
        guard let bytes = try? FileSystem.read(indexDirectory + "/index") else { return [:] }
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasPrefix(DiskStore.indexHeader) else { return [:] }
        var out: [IPAddress: Owner] = [:]
        for line in text.dropFirst(DiskStore.indexHeader.count).split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 3, let ip = IPAddress(String(fields[0])) else { return [:] }
            out[ip] = Owner(containerID: String(fields[1]), ifname: fields[2] == "\u{1}" ? nil : String(fields[2]))
        }
        return out
    }
}

extension String {
    /// Go's `strings.TrimSpace` for the ASCII whitespace reservation files can contain.
    func trimmingASCIIWhitespace() -> String {
        let bytes = Array(utf8)
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || ($0 >= 0x09 && $0 <= 0x0d) }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
