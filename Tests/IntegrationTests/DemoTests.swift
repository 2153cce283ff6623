import Foundation
import Testing
import TestSupport

@Suite("Scripts/demo.sh", .enabled(if: TestEnvironment.isRoot, "needs root to create network namespaces"))
struct DemoTests {
    @Test("The demo runs inside a node namespace, pings both ways and leaves nothing behind")
    func demo() throws {
        let node = try TestNamespace("demo")
        defer { try? node.remove() }
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("Scripts/demo.sh").path
        let result = try node.run(
            [script, TestEnvironment.pluginDirectory], environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("2 received"))
        #expect(try node.ipJSON(["link", "show"]).count == 1, "only lo left on the node")
        let namespaces = try Command.checked(["ip", "netns", "list"])
        #expect(!namespaces.contains("cni-demo-"))
    }
}
