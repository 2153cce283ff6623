import Foundation
import Testing

/// Every fuzz target over its corpus (seeds, and every input that ever crashed, kept under
/// `Corpus/<target>/`), without the fuzzer: a regression comes back as a crash of this test.
@Suite("Fuzz corpus and crash regressions")
struct FuzzRegressionTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")

    static func inputs(_ target: String) -> [URL] {
        let directory = corpus.appendingPathComponent(target)
        return ((try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? [])
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test("Each target reads its corpus without a trap", arguments: FuzzHarness.targets.keys.sorted())
    func corpus(target: String) throws {
        let run = try #require(FuzzHarness.targets[target])
        let inputs = Self.inputs(target)
        #expect(!inputs.isEmpty, "no corpus for \(target) under \(Self.corpus.path)")
        for input in inputs { run(Array(try Data(contentsOf: input))) }
        // And what no corpus holds: nothing, one byte of each value, truncations of each seed.
        run([])
        for byte in UInt8.min...UInt8.max { run([byte]) }
        for input in inputs.prefix(20) {
            let bytes = Array(try Data(contentsOf: input))
            for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 16)) { run(Array(bytes[..<cut])) }
        }
    }
}
