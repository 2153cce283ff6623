import Foundation
import Testing
import TestSupport

/// One pod with thousands of port mappings: the batch and the kernel's acknowledgements once
/// overflowed the socket buffers ("recv: No buffer space available" from ~200 mappings,
/// "send: Message too long" from 1,000).
@Suite(
    "portmap with thousands of mappings in one ADD",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct PortmapScaleTests {
    @Test("5,000 mappings: one ADD installs them all, CHECK passes, DEL removes them all", arguments: [300, 5000])
    func manyMappings(count: Int) throws {
        let node = try Node("pms")
        defer { node.tearDown() }
        let pod = try node.pod()
        let bridge =
            #"{"cniVersion":"1.0.0","name":"pms","type":"bridge","bridge":"cnitbr6","isGateway":true,"ipam":{"type":"host-local","subnet":"10.64.0.0/24","dataDir":"\#(node.dataDir)"}}"#
        let added = try node.run("bridge", "ADD", config: bridge, id: "ctr1", pod: pod)
        #expect(added.status == 0, "\(added)")
        let mappings = (0..<count).map {
            #"{"hostPort":\#(20000 + $0),"containerPort":\#(1000 + $0 % 1000),"protocol":"tcp"}"#
        }
        let conf =
            #"{"cniVersion":"1.0.0","name":"pms","type":"portmap","runtimeConfig":{"portMappings":[\#(mappings.joined(separator: ","))]},"prevResult":\#(added.stdout)}"#
        let mapped = try node.run("portmap", "ADD", config: conf, id: "ctr1", pod: pod)
        #expect(mapped.status == 0, "\(mapped.stdout.prefix(400))")
        let ruleset = try node.nftRuleset()
        #expect(ruleset.components(separatedBy: "comment \"ctr1\" : 10.64.0.2 . ").count - 1 == count)
        #expect(
            ruleset.contains("tcp . \(20000 + count - 1) comment \"ctr1\" : 10.64.0.2 . \(1000 + (count - 1) % 1000)"))
        #expect(try node.run("portmap", "CHECK", config: conf, id: "ctr1", pod: pod).status == 0)
        let deleted = try node.run("portmap", "DEL", config: conf, id: "ctr1", pod: pod)
        #expect(deleted.status == 0, "\(deleted)")
        #expect(try !node.nftRuleset().contains("ctr1"))
        #expect(try node.run("bridge", "DEL", config: bridge, id: "ctr1", pod: pod).status == 0)
    }
}
