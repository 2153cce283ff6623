import Foundation
import Testing
import TestSupport

@Suite(
    "bridge under parallel runtimes (R28)",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct BridgeConcurrencyTests {
    @Test(
        "20 concurrent ADDs on a fresh node: one bridge, 20 distinct addresses, all reachable; 20 concurrent DELs leave nothing"
    )
    func parallelPods() throws {
        let node = try Node("brp")
        defer { node.tearDown() }
        let pods = try (0..<20).map { _ in try node.pod() }
        let conf =
            #"{"cniVersion":"1.0.0","name":"parnet","type":"bridge","bridge":"cnitbr4","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","subnet":"10.72.0.0/24","dataDir":"\#(node.dataDir)"}}"#
        let addresses = Locked<[String]>([])
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: pods.count) { i in
            do {
                let result = try node.run("bridge", "ADD", config: conf, id: "par\(i)", pod: pods[i])
                if result.status != 0 { failures.mutate { $0.append("ADD \(i): \(result)") } }
                if let address = (try result.object()["ips"] as? [[String: Any]])?.first?["address"] as? String {
                    addresses.mutate { $0.append(address) }
                }
            } catch {
                failures.mutate { $0.append("\(i): \(error)") }
            }
        }
        #expect(failures.value.isEmpty, "\(failures.value.prefix(2))")
        #expect(Set(addresses.value).count == 20)
        #expect(try node.links().filter { !$0.hasPrefix("veth") } == ["cnitbr4"])
        let bridgeAddresses =
            try node.ns.ipJSON(["-4", "addr", "show", "cnitbr4"]).first?["addr_info"] as? [[String: Any]] ?? []
        #expect(bridgeAddresses.count == 1, "one gateway address despite 20 racing ADDs")
        #expect(try ping(pods[0], "10.72.0.1"))
        DispatchQueue.concurrentPerform(iterations: pods.count) { i in
            do {
                let result = try node.run("bridge", "DEL", config: conf, id: "par\(i)", pod: pods[i])
                if result.status != 0 { failures.mutate { $0.append("DEL \(i): \(result)") } }
            } catch {
                failures.mutate { $0.append("\(i): \(error)") }
            }
        }
        #expect(failures.value.isEmpty, "\(failures.value.prefix(2))")
        #expect(try node.links() == ["cnitbr4"])
        #expect(node.reservations("parnet").isEmpty)
        #expect(try !node.nftRuleset().contains("masquerade comment"))
    }
}
