import Foundation
import Glibc
import Netlink
import Testing

@testable import CNISystem
@testable import Netfilter

/// A commit that deletes marks the time; a commit that only adds defers its socket's release
/// while that mark is recent, and closes as usual otherwise.
@Suite("NetfilterDeletions: the mark of a deleting commit, and the releases it defers")
struct NetfilterDeletionsTests {
    static func ackAll() -> FakeNetfilterKernel {
        FakeNetfilterKernel { sent, _ in NFTClientTests.acknowledged(sent).map { FakeNetfilterKernel.ack($0) } }
    }

    static func adding() -> NFTTransaction {
        var tx = NFTTransaction(family: .inet, table: "t")
        tx.add(.addTable(NFTTable(family: .inet, name: "t")))
        return tx
    }

    static func deleting() -> NFTTransaction {
        var tx = NFTTransaction(family: .inet, table: "t")
        tx.add(.deleteTable)
        return tx
    }

    static func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cnit-nfdel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        return url
    }

    /// Sets the mark file's modification time `seconds` before now.
    static func age(_ path: String, seconds: Int) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var times = [
            timespec(tv_sec: now.tv_sec - seconds, tv_nsec: 0), timespec(tv_sec: now.tv_sec - seconds, tv_nsec: 0),
        ]
        _ = utimensat(AT_FDCWD, path, &times, 0)
    }

    @Test("A deleting commit marks the file and defers its release; an adding commit after it defers too, later not")
    func deferral() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir.path) }
        let path = dir.path + "/lock"
        FileManager.default.createFile(atPath: path, contents: nil)
        let deletions = NetfilterDeletions(path: path)
        Self.age(path, seconds: 10)
        #expect(!deletions.recent)

        let first = Self.ackAll()
        try NFTClient(transport: first, deletions: deletions).run(Self.adding())
        #expect(first.backgroundReleases == 0, "nothing deleted lately: a plain close")

        let remover = Self.ackAll()
        try NFTClient(transport: remover, deletions: deletions).run(Self.deleting())
        #expect(remover.backgroundReleases == 1 && deletions.recent)

        let next = Self.ackAll()
        try NFTClient(transport: next, deletions: deletions).run(Self.adding())
        #expect(next.backgroundReleases == 1, "the kernel may still be destroying what was deleted")

        Self.age(path, seconds: 2)
        let later = Self.ackAll()
        try NFTClient(transport: later, deletions: deletions).run(Self.adding())
        #expect(later.backgroundReleases == 0)
    }

    @Test("A missing mark file is never created and never recent; a symlink there is not followed")
    func missingAndLinked() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir.path) }
        let missing = NetfilterDeletions(path: dir.path + "/none")
        missing.mark()
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/none") && !missing.recent)
        let target = dir.path + "/target"
        FileManager.default.createFile(atPath: target, contents: nil)
        Self.age(target, seconds: 100)
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/link", withDestinationPath: target)
        NetfilterDeletions(path: dir.path + "/link").mark()
        #expect(!NetfilterDeletions(path: target).recent, "the link's target keeps its time")
    }

    @Test("Ages: now and 0.2 s ago are recent; older, in the future, or absurd clocks are not, without a trap")
    func ages() {
        let now = timespec(tv_sec: 1_000, tv_nsec: 500_000_000)
        let cases: [(timespec, Bool)] = [
            (now, true), (timespec(tv_sec: 1_000, tv_nsec: 300_000_000), true),
            (timespec(tv_sec: 1_000, tv_nsec: 299_999_999), false), (timespec(tv_sec: 999, tv_nsec: 0), false),
            (timespec(tv_sec: 1_000, tv_nsec: 600_000_000), false), (timespec(tv_sec: 1_001, tv_nsec: 0), false),
            (timespec(tv_sec: .min, tv_nsec: 0), false), (timespec(tv_sec: .max, tv_nsec: .max), false),
        ]
        for (mark, recent) in cases {
            #expect(NetfilterDeletions.within(now: now, mark: mark) == recent, "\(mark)")
        }
        #expect(
            !NetfilterDeletions.within(
                now: timespec(tv_sec: .min, tv_nsec: .min), mark: timespec(tv_sec: .max, tv_nsec: 0)))
    }
}
