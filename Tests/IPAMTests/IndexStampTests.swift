import CNISkeleton
import Foundation
import IPAM
import Testing

@Suite("host-local's index: stamp lines, compaction, the v2 layout, last_reserved_ip in place")
struct IndexStampTests {
    func lines(_ path: String) throws -> [Substring] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
    }

    func inode(_ path: String) throws -> UInt64 {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? UInt64)
    }

    /// 10.1.0.2 reserved for `a` by this store, then released by the reference's DEL and given
    /// to `b` by its ADD: a new file under the same name. The directory's mtime is then set
    /// apart from the stamp, as any kernel makes it once the clock ticks (since 6.13 at once).
    func handedOn(_ dir: String) throws -> (IPAddress, a: Owner, b: Owner) {
        let ip = try #require(IPAddress("10.1.0.2"))
        let (a, b) = (Owner(containerID: "a", ifname: "eth0"), Owner(containerID: "b", ifname: "eth0"))
        do {
            let store = try DiskStore(dataDir: dir, network: "n")
            #expect(try store.reserve(ip, for: a, setIndex: 0))
            store.commit()
        }
        try FileManager.default.removeItem(atPath: dir + "/n/10.1.0.2")
        try "b\r\neth0".write(toFile: dir + "/n/10.1.0.2", atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSinceNow: -10)], ofItemAtPath: dir + "/n")
        return (ip, a, b)
    }

    @Test("Each save appends its stamp; past the limit the index is rewritten with one; hints keep their inode")
    func compaction() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let saves = DiskStore.stampsBeforeCompaction + 3
        var hintInode: UInt64? = nil
        for i in 0..<saves {
            let store = try DiskStore(dataDir: dir, network: "n")
            let ip = try #require(IPAddress("10.1.\(i / 200).\(i % 200 + 2)"))
            #expect(try store.reserve(ip, for: Owner(containerID: "c\(i)", ifname: "eth0"), setIndex: 0))
            store.commit()
            let inode = try inode(dir + "/n/last_reserved_ip.0")
            if let hintInode { #expect(inode == hintInode, "rewritten in place, not replaced") }
            hintInode = inode
            let index = try lines(dir + "/n/.swift-cni/index")
            #expect(index.last?.hasPrefix("#stamp ") == true)
            #expect(index.filter { $0.hasPrefix("#stamp ") }.count <= DiskStore.stampsBeforeCompaction)
        }
        let index = try lines(dir + "/n/.swift-cni/index")
        #expect(index.filter { $0.contains("\t") }.count == saves)
        #expect(index.filter { $0.hasPrefix("#stamp ") }.count == 3, "compacted once, then two more saves")
        #expect(try String(contentsOfFile: dir + "/n/last_reserved_ip.0", encoding: .utf8) == "10.1.1.60")
        #expect(try DiskStore(dataDir: dir, network: "n").reservations.count == saves)
    }

    @Test("A release appends its line to the same file; a link planted in the index's place goes, its target stays")
    func releaseRewrite() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let owner = Owner(containerID: "c1", ifname: "eth0")
        let (a, b) = (try #require(IPAddress("10.1.0.2")), try #require(IPAddress("10.1.0.3")))
        // Each store holds the network's lock until it goes: one at a time.
        do {
            let first = try DiskStore(dataDir: dir, network: "n")
            #expect(try first.reserve(a, for: owner, setIndex: 0) && first.reserve(b, for: owner, setIndex: 0))
            first.commit()
        }
        let before = try inode(dir + "/n/.swift-cni/index")
        do {
            let second = try DiskStore(dataDir: dir, network: "n", verify: true)
            try second.release([a])
            second.commit()
        }
        #expect(try inode(dir + "/n/.swift-cni/index") == before)
        #expect(
            try lines(dir + "/n/.swift-cni/index").filter { !$0.hasPrefix("#") }
                == ["10.1.0.2\tc1\teth0", "10.1.0.3\tc1\teth0", "-10.1.0.2"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/n/.swift-cni") == ["index"])
        do {
            let store = try DiskStore(dataDir: dir, network: "n")
            #expect(store.addresses(of: owner) == [b], "the released entry no longer counts")
            #expect(store.reservations == [b: owner])
            // Reserved again after its release: held again.
            #expect(try store.reserve(a, for: owner, setIndex: 0))
            store.commit()
        }
        #expect(try DiskStore(dataDir: dir, network: "n", verify: true).addresses(of: owner) == [a, b])
        do {
            let store = try DiskStore(dataDir: dir, network: "n", verify: true)
            try store.release([a])
            store.commit()
        }

        let victim = dir + "/victim"
        try "precious".write(toFile: victim, atomically: false, encoding: .utf8)
        try FileManager.default.removeItem(atPath: dir + "/n/.swift-cni/index")
        try FileManager.default.createSymbolicLink(atPath: dir + "/n/.swift-cni/index", withDestinationPath: victim)
        do {
            let third = try DiskStore(dataDir: dir, network: "n", verify: true)
            try third.release([b])
            third.commit()
        }
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious")
        let kind =
            try FileManager.default.attributesOfItem(atPath: dir + "/n/.swift-cni/index")[.type] as? FileAttributeType
        #expect(kind == .typeRegular)
        #expect(try DiskStore(dataDir: dir, network: "n").reservations.isEmpty)
    }

    @Test("An index of v2 with its separate stamp file is rebuilt from the files, and the stamp file goes")
    func fromV2() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/n/.swift-cni", withIntermediateDirectories: true)
        let header = "# swift-cni host-local index v2: a cache of the reservation files beside it\n"
        try (header + "10.1.0.9\tgone\teth0\n").write(
            toFile: dir + "/n/.swift-cni/index", atomically: true, encoding: .utf8)
        try "1 2 3\n".write(toFile: dir + "/n/.swift-cni/stamp", atomically: true, encoding: .utf8)
        try "live\r\neth0".write(toFile: dir + "/n/10.1.0.2", atomically: true, encoding: .utf8)
        let store = try DiskStore(dataDir: dir, network: "n")
        #expect(store.reservations == [IPAddress("10.1.0.2")!: Owner(containerID: "live", ifname: "eth0")])
        store.commit()
        #expect(!FileManager.default.fileExists(atPath: dir + "/n/.swift-cni/stamp"))
        let index = try lines(dir + "/n/.swift-cni/index")
        #expect(index.first?.contains("index v4") == true)
        #expect(index.dropFirst().first == "10.1.0.2\tlive\teth0")
        #expect(index.last?.hasPrefix("#stamp 1 ") == true)
    }

    @Test("A compaction drops released entries with their release lines")
    func compactionDropsReleases() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let owner = Owner(containerID: "c", ifname: "eth0")
        let (kept, churned) = (try #require(IPAddress("10.1.0.2")), try #require(IPAddress("10.1.0.3")))
        for i in 0..<(DiskStore.stampsBeforeCompaction + 1) {
            let store = try DiskStore(dataDir: dir, network: "n", verify: i % 2 == 1)
            if i == 0 { #expect(try store.reserve(kept, for: owner, setIndex: 0)) }
            if i % 2 == 1 {
                try store.release([churned])
            } else {
                #expect(try store.reserve(churned, for: owner, setIndex: 0))
            }
            store.commit()
        }
        let index = try lines(dir + "/n/.swift-cni/index").filter { !$0.hasPrefix("#") }
        #expect(index == ["10.1.0.2\tc\teth0", "10.1.0.3\tc\teth0"], "one stamp, two entries, no release line")
    }

    @Test("An index of v3, which has no release lines, is not trusted even with its stamp matching")
    func fromV3() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = try #require(IPAddress("10.1.0.2"))
        do {
            let store = try DiskStore(dataDir: dir, network: "n")
            #expect(try store.reserve(a, for: Owner(containerID: "a", ifname: "eth0"), setIndex: 0))
            store.commit()
        }
        // An entry the files do not back, put in without touching the state directory, so
        // the stamp still matches: trusted under this version's header, not under v3's.
        let path = dir + "/n/.swift-cni/index"
        let stored = try String(contentsOfFile: path, encoding: .utf8)
        let header = try #require(stored.split(separator: "\n").first)
        let planted = stored.replacingOccurrences(of: header + "\n", with: header + "\n10.1.0.9\tgone\teth0\n")
        try planted.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try DiskStore(dataDir: dir, network: "n").reservations.count == 2, "the stamp matches")
        try planted.replacingOccurrences(of: "index v4", with: "index v3").write(
            toFile: path, atomically: true, encoding: .utf8)
        #expect(try DiskStore(dataDir: dir, network: "n").reservations == [a: Owner(containerID: "a", ifname: "eth0")])
    }

    @Test("A verified open keeps a matching index and only stamps it; stale, repeated and missing lines are fixed")
    func verifyReconciles() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (a, b) = (try #require(IPAddress("10.1.0.2")), try #require(IPAddress("10.1.0.3")))
        do {
            let store = try DiskStore(dataDir: dir, network: "n")
            #expect(try store.reserve(a, for: Owner(containerID: "a", ifname: "eth0"), setIndex: 0))
            #expect(try store.reserve(b, for: Owner(containerID: "b", ifname: "eth0"), setIndex: 0))
            store.commit()
        }
        let path = dir + "/n/.swift-cni/index"
        let before = try inode(path)
        do { try DiskStore(dataDir: dir, network: "n", verify: true).commit() }
        #expect(try inode(path) == before, "nothing to fix: the stamp is appended to the same file")
        #expect(try lines(path).filter { $0.contains("\t") } == ["10.1.0.2\ta\teth0", "10.1.0.3\tb\teth0"])

        // A line repeated, one for a file that is gone, and a file the index lacks.
        let header = try lines(path)[0]
        try (header + "\n10.1.0.3\tb\teth0\n10.1.0.9\tgone\teth0\n10.1.0.3\tb\teth0\n").write(
            toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: dir + "/n/10.1.0.2")
        try "c\r\neth1".write(toFile: dir + "/n/10.1.0.4", atomically: true, encoding: .utf8)
        do {
            let store = try DiskStore(dataDir: dir, network: "n", verify: true)
            #expect(
                store.reservations == [
                    b: Owner(containerID: "b", ifname: "eth0"),
                    try #require(IPAddress("10.1.0.4")): Owner(containerID: "c", ifname: "eth1"),
                ])
            store.commit()
        }
        #expect(try lines(path).filter { $0.contains("\t") } == ["10.1.0.3\tb\teth0", "10.1.0.4\tc\teth1"])
    }

    @Test(
        "An address the reference released and gave to another container is read again, and DEL leaves it",
        arguments: [false, true])
    func handedOnBehindTheCache(verify: Bool) throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (ip, a, b) = try handedOn(dir)
        do {
            // DEL opens the store without verify: the changed stamp alone makes it read again.
            let store = try DiskStore(dataDir: dir, network: "n", verify: verify)
            #expect(store.addresses(of: b) == [ip])
            #expect(store.addresses(of: a).isEmpty)
            try store.release(store.addresses(of: a), heldBy: a)
            store.commit()
        }
        #expect(try String(contentsOfFile: dir + "/n/10.1.0.2", encoding: .utf8) == "b\r\neth0")

        // Rewritten in place, the directory unchanged, so the stamp still matches: a repeated
        // DEL of b's predecessor must still leave the file that now names someone else.
        try "c\r\neth0".write(toFile: dir + "/n/10.1.0.2", atomically: false, encoding: .utf8)
        do {
            let store = try DiskStore(dataDir: dir, network: "n", verify: verify)
            try store.release([ip], heldBy: b)
            store.commit()
        }
        #expect(try String(contentsOfFile: dir + "/n/10.1.0.2", encoding: .utf8) == "c\r\neth0")
        #expect(
            try DiskStore(dataDir: dir, network: "n", verify: true).addresses(
                of: Owner(containerID: "c", ifname: "eth0"))
                == [ip], "the cache now names the file's holder")
    }

    @Test("A damaged entry line makes the index be read again from the files, so DEL still finds its address")
    func damagedLine() throws {
        for damage in ["10.1.0.3\tb eth0\n", "10.1.0.3\tb\n", "10.1.0.3\tb\teth0\textra\n"] {
            let dir = try scratch()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let (ip, b) = (try #require(IPAddress("10.1.0.3")), Owner(containerID: "b", ifname: "eth0"))
            do {
                let store = try DiskStore(dataDir: dir, network: "n")
                #expect(try store.reserve(ip, for: b, setIndex: 0))
                store.commit()
            }
            // The cache damaged without touching the directory: its stamp still matches.
            let path = dir + "/n/.swift-cni/index"
            let stored = try String(contentsOfFile: path, encoding: .utf8)
            try stored.replacingOccurrences(of: "10.1.0.3\tb\teth0\n", with: damage).write(
                toFile: path, atomically: true, encoding: .utf8)
            do {
                // As DEL opens it: the stamp matches, the damaged line is not an entry, and
                // the check of the listing that an empty answer triggers finds the file.
                let store = try DiskStore(dataDir: dir, network: "n")
                #expect(store.addresses(of: b).isEmpty, "\(damage)")
                try store.recheck()
                #expect(store.addresses(of: b) == [ip], "\(damage)")
                try store.release(store.addresses(of: b), heldBy: b)
                store.commit()
            }
            #expect(!FileManager.default.fileExists(atPath: dir + "/n/10.1.0.3"), "\(damage)")
        }
    }

    @Test("A DEL of an unknown attachment after the reference changed the directory saves the rebuilt cache")
    func unknownDelSavesRebuild() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (ip, a, b) = try handedOn(dir)
        // Then our DEL of a container never added.
        do {
            let store = try DiskStore(dataDir: dir, network: "n")
            try store.releaseAll(of: Owner(containerID: "x", ifname: "eth0"))
            store.commit()
        }
        #expect(try lines(dir + "/n/.swift-cni/index").first?.contains("index v4") == true)
        do {
            let store = try DiskStore(dataDir: dir, network: "n")
            #expect(store.addresses(of: a).isEmpty)
            #expect(store.addresses(of: b) == [ip])
            try store.releaseAll(of: b)
            store.commit()
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/n/10.1.0.2"))

        // A directory only the reference used: the first cache written starts with its header.
        try FileManager.default.removeItem(atPath: dir + "/n/.swift-cni")
        try "c\r\neth0".write(toFile: dir + "/n/10.1.0.3", atomically: false, encoding: .utf8)
        for _ in 0..<2 {
            let store = try DiskStore(dataDir: dir, network: "n")
            try store.releaseAll(of: Owner(containerID: "x", ifname: "eth0"))
            store.commit()
        }
        let index = try lines(dir + "/n/.swift-cni/index")
        #expect(index.first?.contains("index v4") == true)
        #expect(index.filter { $0.hasPrefix("#stamp ") }.count <= 2)
    }

    @Test("DEL releases the attachment's own files when the cache names the wrong or too few of them")
    func delDespiteWrongCache() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (a, b) = (Owner(containerID: "a", ifname: "eth0"), Owner(containerID: "b", ifname: "eth0"))
        do {
            let store = try DiskStore(dataDir: dir, network: "n")
            #expect(try store.reserve(#require(IPAddress("10.1.0.2")), for: a, setIndex: 0))
            #expect(try store.reserve(#require(IPAddress("10.1.0.3")), for: b, setIndex: 0))
            #expect(try store.reserve(#require(IPAddress("10.2.0.2")), for: a, setIndex: 1))
            store.commit()
        }
        // Owners swapped in place and a's second line dropped; the directory untouched.
        let path = dir + "/n/.swift-cni/index"
        let edited = try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "10.1.0.2\ta\t", with: "10.1.0.2\tq\t")
            .replacingOccurrences(of: "10.1.0.3\tb\t", with: "10.1.0.3\ta\t")
            .replacingOccurrences(of: "10.1.0.2\tq\t", with: "10.1.0.2\tb\t")
            .replacingOccurrences(of: "10.2.0.2\ta\teth0\n", with: "")
        try edited.write(toFile: path, atomically: true, encoding: .utf8)
        do {
            let store = try DiskStore(dataDir: dir, network: "n")
            try store.releaseAll(of: a, expected: 2)
            store.commit()
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir + "/n").filter { $0.hasPrefix("10.") }
        #expect(left == ["10.1.0.3"], "only b's file stays")
        do {
            let store = try DiskStore(dataDir: dir, network: "n")
            try store.releaseAll(of: b)
            store.commit()
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/n/10.1.0.3"))
    }
}
