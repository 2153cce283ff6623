import Foundation
import Testing
import TestSupport

/// Storms: many ADDs across five networks at once, interleaved with DELs, CHECKs and GCs that
/// name the live attachments (in-flight ADDs included, as a runtime must). As the spec asks of
/// a runtime, no ADD of a network starts while its GC runs: an ADD begun after the list was
/// made would not be on it, and GC would rightly take its address. Network 4 is worked
/// by the Go reference and by us together, on one bridge and one host-local data dir. CI runs
/// 100 ADDs 20 at a time; the full size is
/// `sudo SWIFT_CNI_STORM_ADDS=500 SWIFT_CNI_STORM_WIDTH=50 swift test --filter StormTests`.
@Suite("Storms: concurrent ADD, DEL, CHECK and GC across networks", .enabled(if: TestEnvironment.isRoot, "needs root"))
struct StormTests {
    final class Ledger: @unchecked Sendable {
        // @unchecked: every field is touched with `lock` held.
        private let lock = NSLock()
        private var live: [Int: [String: String]] = [:]  // network -> containerID -> address
        private var inFlight: [Int: Set<String>] = [:]
        /// GCs running per network.
        private var collecting: [Int: Int] = [:]
        private let changed = NSCondition()
        private(set) var problems: [String] = []

        /// An ADD is about to start: it waits while its network's GC runs.
        func begin(_ network: Int, _ id: String) {
            changed.lock()
            while lock.withLock({ collecting[network, default: 0] > 0 }) { changed.wait() }
            lock.withLock { _ = inFlight[network, default: []].insert(id) }
            changed.unlock()
        }

        /// Holds back new ADDs of `network` and returns what is valid: live and in flight.
        func startCollecting(_ network: Int) -> [String] {
            changed.lock()
            defer { changed.unlock() }
            return lock.withLock {
                collecting[network, default: 0] += 1
                return Array(live[network, default: [:]].keys) + Array(inFlight[network, default: []])
            }
        }

        func stopCollecting(_ network: Int) {
            changed.lock()
            lock.withLock { collecting[network, default: 1] -= 1 }
            changed.broadcast()
            changed.unlock()
        }

        /// Records a granted address; a second holder of one address is a problem.
        func added(_ network: Int, _ id: String, _ address: String?) {
            lock.withLock {
                inFlight[network]?.remove(id)
                guard let address else { return }
                if let holder = live[network, default: [:]].first(where: { $0.value == address })?.key {
                    problems.append("net\(network): \(address) handed to \(id) while \(holder) holds it")
                }
                live[network, default: [:]][id] = address
            }
        }

        func failed(_ network: Int, _ id: String) { lock.withLock { _ = inFlight[network]?.remove(id) } }
        func deleted(_ network: Int, _ id: String) { lock.withLock { _ = live[network]?.removeValue(forKey: id) } }
        func problem(_ text: String) { lock.withLock { problems.append(text) } }

        func remaining() -> [(Int, String)] {
            lock.withLock { live.flatMap { network, ids in ids.keys.map { (network, $0) } } }
        }
    }

    static let networks = 5

    /// The network's config; network 4 speaks 1.0.0, the newest version the Debian reference
    /// knows, except for GC (1.1.0), which only ours runs.
    static func config(_ network: Int, _ dataDir: String, gc: Bool = false) -> String {
        let masq = network < 4 ? #","ipMasq":true"# : ""
        let version = network == 4 && !gc ? "1.0.0" : "1.1.0"
        return
            #"{"cniVersion":"\#(version)","name":"storm\#(network)","type":"bridge","bridge":"cnitst\#(network)","isGateway":true\#(masq),"ipam":{"type":"host-local","subnet":"10.92.\#(network).0/24","dataDir":"\#(dataDir)/ipam"}}"#
    }

    /// Attachments on network 4 with an even number are the reference's.
    static func byReference(_ network: Int, _ index: Int) -> Bool { network == 4 && index % 2 == 0 }

    func run(
        _ node: Node, _ command: String, _ config: String, id: String, pod: TestNamespace?, reference: Bool
    ) throws -> (CommandResult, Double) {
        let bin = reference ? TestEnvironment.referenceDirectory : TestEnvironment.pluginDirectory
        let start = Date()
        let result = try node.run("bridge", command, config: config, id: id, pod: pod, bin: bin)
        return (result, Date().timeIntervalSince(start))
    }

    /// A failure must be a CNI error object on stdout.
    func isCNIError(_ result: CommandResult) -> Bool {
        result.status == 1 && ((try? result.object())?["code"] as? Int) != nil
    }

    @Test("ADDs in parallel with DELs, CHECKs and GCs: no address twice, every answer in time, nothing left")
    func storm() throws {
        let environment = ProcessInfo.processInfo.environment
        let adds = environment["SWIFT_CNI_STORM_ADDS"].flatMap(Int.init) ?? 100
        let width = environment["SWIFT_CNI_STORM_WIDTH"].flatMap(Int.init) ?? 20
        let node = try Node("storm")
        defer { node.tearDown() }
        let pods = try (0..<adds).map { _ in try node.pod("st") }
        let ledger = Ledger()
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = width
        for index in 0..<adds {
            queue.addOperation {
                do { try attachment(index, node, pods[index], ledger) } catch { ledger.problem("\(index): \(error)") }
            }
        }
        queue.waitUntilAllOperationsAreFinished()
        for (network, id) in ledger.remaining() {
            let index = Int(id.dropFirst("storm-".count)) ?? 0
            let (result, _) = try run(
                node, "DEL", Self.config(network, node.dataDir), id: id, pod: pods[index],
                reference: Self.byReference(network, index))
            if result.status != 0 { ledger.problem("final DEL \(id): \(result)") }
        }
        #expect(ledger.problems.isEmpty, "\(ledger.problems.prefix(5))")
        #expect(try node.links().filter { $0.hasPrefix("veth") }.isEmpty, "no veth left")
        for network in 0..<Self.networks { #expect(node.reservations("ipam/storm\(network)").isEmpty, "net\(network)") }
        #expect(!(try node.nftRuleset()).contains("storm"), "no masquerade rule left")
    }

    /// One attachment's life: ADD, CHECK now and then, DEL at once for half of them (the
    /// rest at the end), and every fifth one a GC of its network naming what is valid.
    private func attachment(_ index: Int, _ node: Node, _ pod: TestNamespace, _ ledger: Ledger) throws {
        let network = index % Self.networks, id = "storm-\(index)"
        let reference = Self.byReference(network, index)
        let config = Self.config(network, node.dataDir)
        ledger.begin(network, id)
        let (added, seconds) = try run(node, "ADD", config, id: id, pod: pod, reference: reference)
        if seconds > 60 { ledger.problem("ADD \(id) took \(seconds) s") }
        guard added.status == 0 else {
            ledger.failed(network, id)
            if !isCNIError(added) { ledger.problem("ADD \(id) failed without a CNI error: \(added)") }
            ledger.problem("ADD \(id): \(added)")
            return
        }
        let ips = (try? added.object())?["ips"] as? [[String: Any]]
        ledger.added(network, id, ips?.first?["address"] as? String)
        if index % 3 == 0, !reference {
            let withPrev = String(config.dropLast()) + #","prevResult":\#(added.stdout)}"#
            let (checked, _) = try run(node, "CHECK", withPrev, id: id, pod: pod, reference: false)
            if checked.status != 0 { ledger.problem("CHECK \(id): \(checked)") }
        }
        if index % 5 == 0 {
            let valid = ledger.startCollecting(network).map { #"{"containerID":"\#($0)","ifname":"eth0"}"# }
            defer { ledger.stopCollecting(network) }
            let gc =
                String(Self.config(network, node.dataDir, gc: true).dropLast())
                + #","cni.dev/valid-attachments":[\#(valid.joined(separator: ","))]}"#
            let (collected, _) = try run(node, "GC", gc, id: "", pod: nil, reference: false)
            if collected.status != 0 { ledger.problem("GC net\(network): \(collected)") }
        }
        if index % 2 == 0 {
            let (deleted, _) = try run(node, "DEL", config, id: id, pod: pod, reference: reference)
            if deleted.status != 0 { ledger.problem("DEL \(id): \(deleted)") }
            ledger.deleted(network, id)
        }
    }
}
