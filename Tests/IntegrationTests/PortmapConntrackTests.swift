import Foundation
import Testing
import TestSupport

/// A UDP flow that exists before its host port is mapped keeps its conntrack entry, and with it
/// the NAT decision of its first packet (none): portmap deletes the port's entries, so the
/// flow's next packet is DNATed to the pod.
@Suite(
    "portmap and stale conntrack entries",
    .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct PortmapConntrackTests {
    @Test("A UDP flow from before the mapping reaches the pod once portmap has added it")
    func staleUDPFlow() throws {
        let node = try Node("pmc")
        defer { node.tearDown() }
        let pod = try node.pod()
        let helpers = PortmapTests()
        let out = try helpers.uplink(node)
        let (_, portmap) = try helpers.chain(
            node, pod, mappings: #"[{"hostPort":30053,"containerPort":5353,"protocol":"udp"}]"#)
        // A node always has some NAT (kube-proxy, masquerading), which turns conntrack on
        // before the mapping exists; this namespace gets an unrelated NAT rule for that.
        for command in [
            ["nft", "add", "table", "ip", "cnitnat"],
            ["nft", "add", "chain", "ip", "cnitnat", "pre", "{ type nat hook prerouting priority -150 ; }"],
            // A NAT rule (for an address nobody uses) is what makes the netns track connections.
            ["nft", "add", "rule", "ip", "cnitnat", "pre", "ip", "daddr", "203.0.113.9", "dnat", "to", "203.0.113.10"],
        ] {
            let done = try node.ns.run(command)
            #expect(done.status == 0, "\(done)")
        }
        // The pod answers every datagram; the client sends from one fixed port all along, so
        // its packets belong to one conntrack entry, made before the mapping existed.
        let server =
            "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(('0.0.0.0',5353));s.settimeout(10)\n"
            + "d,a=s.recvfrom(64); s.sendto(b'pod',a)"
        let serving = Thread.detachedResult { try pod.run(["timeout", "15", "python3", "-c", server]) }
        let client =
            "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(('192.0.2.2',40053));s.settimeout(0.2)\n"
            + "end=time.time()+8\nwhile time.time()<end:\n    s.sendto(b'q',('192.0.2.1',30053))\n"
            + "    try:\n        print(s.recvfrom(64)[0].decode()); break\n    except OSError: pass"
        let asking = Thread.detachedResult { try out.run(["python3", "-c", client]) }
        usleep(1_500_000)  // the flow is established (and unanswered) before the mapping
        let added = try node.run("portmap", "ADD", config: portmap, id: "ctr1", pod: pod)
        #expect(added.status == 0, "\(added)")
        let answer = try asking.wait()
        #expect(answer.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "pod", "\(answer)")
        #expect(try node.run("portmap", "DEL", config: portmap, id: "ctr1", pod: pod).status == 0)
        _ = try? serving.wait()
    }
}
