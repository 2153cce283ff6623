import Foundation
import Testing
import TestSupport

/// `cni reload` after `nft flush ruleset`: the live attachment's port mapping serves again.
@Suite(
    "cni reload",
    .enabled(if: LibcniDriver.unavailableReason == nil, Comment(rawValue: LibcniDriver.unavailableReason ?? "")))
struct CNIToolReloadTests {
    /// One TCP connection to `address:port` from the node, answered by a one-shot server on the
    /// pod's port 80; nil when nothing answered.
    func served(_ scratch: CNIToolRunTests.Scratch, _ address: String, _ port: Int) throws -> String? {
        let server =
            "import socket\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('0.0.0.0',80));s.listen(1);s.settimeout(4)\ntry:\n    c,a=s.accept();c.send(b'served');c.close()\nexcept OSError: pass"
        let pod = scratch.pod
        let pending = Thread.detachedResult { try pod.run(["python3", "-c", server]) }
        usleep(300_000)
        let client =
            "import socket,time\nfor _ in range(10):\n    try:\n        s=socket.create_connection(('\(address)',\(port)),1);print(s.recv(16).decode());break\n    except OSError: time.sleep(0.2)"
        let answer = try scratch.node.run(["python3", "-c", client]).stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
        _ = try pending.wait()
        return answer.isEmpty ? nil : answer
    }

    func owned(_ scratch: CNIToolRunTests.Scratch) throws -> Int {
        try scratch.node.run(["nft", "list", "ruleset"]).stdout.components(separatedBy: " comment \"").count - 1
    }

    @Test("After nft flush ruleset, reload puts back masquerading, the mapping and firewall's entry; twice is once")
    func afterFlush() throws {
        let scratch = try CNIToolRunTests.Scratch("cnitrl")
        defer { scratch.tearDown() }
        #expect(try scratch.cni(["run", "add", "cnit-tool", scratch.pod.path]).status == 0)
        #expect(try served(scratch, "10.93.0.1", 18093) == "served", "the mapping works")
        let before = try owned(scratch)
        try Command.checked(["ip", "netns", "exec", scratch.node.name, "nft", "flush", "ruleset"])
        #expect(try owned(scratch) == 0)
        let reloaded = try scratch.cni(["reload"])
        #expect(reloaded.status == 0, "\(reloaded)")
        #expect(reloaded.stdout.contains("bridge masquerading, portmap, firewall"), "\(reloaded.stdout)")
        #expect(reloaded.stdout.contains("reloaded 1 of 1 attachments"))
        #expect(try owned(scratch) == before, "every element and rule is back")
        #expect(try served(scratch, "10.93.0.1", 18093) == "served", "and serves again")
        #expect(try scratch.cni(["reload"]).status == 0)
        #expect(try owned(scratch) == before, "a second reload adds nothing")
        #expect(try scratch.cni(["run", "del", "cnit-tool", scratch.pod.path]).status == 0)
        #expect(try !scratch.node.run(["nft", "list", "ruleset"]).stdout.contains("10.93.0.2"))
    }
}
