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

    @Test("A release rewrites the index as a new file; a link planted in its place goes and its target stays")
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
        #expect(try inode(dir + "/n/.swift-cni/index") != before)
        #expect(try lines(dir + "/n/.swift-cni/index").filter { $0.contains("\t") } == ["10.1.0.3\tc1\teth0"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/n/.swift-cni") == ["index"])

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
        #expect(index.first?.contains("index v3") == true)
        #expect(index.dropFirst().first == "10.1.0.2\tlive\teth0")
        #expect(index.last?.hasPrefix("#stamp 1 ") == true)
    }
}
