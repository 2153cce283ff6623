import CNISkeleton
import Testing

@Suite("CNI_ARGS, addresses and GC attachments")
struct ArgsAndConfigTests {
    @Test("R61: the Kubernetes runtime arguments are accepted")
    func kubernetesArgs() throws {
        let args = CNIArgs(
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u")
        #expect(try args.parse().count == 5)
    }

    @Test("R62: unknown keys fail unless IgnoreUnknown is true anywhere in the string")
    func unknownKeys() throws {
        #expect(throws: CNIError(.invalidEnvironmentVariables, "ARGS: unknown args [\"FOO\"]")) {
            try CNIArgs("FOO=bar").parse()
        }
        #expect(try CNIArgs("FOO=bar;IgnoreUnknown=true").parse().count == 2)
        #expect(throws: CNIError.self) { try CNIArgs("FOO=bar;IgnoreUnknown=0").parse() }
        #expect(try CNIArgs("IP=10.0.0.2").value("IP", known: []) == "10.0.0.2")
    }

    @Test("R62: malformed pairs fail", arguments: ["FOO", "A=b=c", "A=b;", ";A=b", "IgnoreUnknown=maybe"])
    func malformedPairs(raw: String) {
        #expect(throws: CNIError.self) { try CNIArgs(raw).parse(known: ["A", "FOO"]) }
    }

    @Test(
        "IP addresses parse and print as Go's net package does",
        arguments: [
            ("10.0.0.1", "10.0.0.1"), ("::1", "::1"), ("fd00:0:0:0:0:0:0:1", "fd00::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("::ffff:10.1.2.3", "10.1.2.3"),
            ("FD00::A", "fd00::a"), ("1:0:0:0:0:0:0:0", "1::"), ("0:0:0:0:0:0:0:0", "::"),
            ("::1.2.3.4", "::102:304"),
        ])
    func addresses(text: String, printed: String) {
        #expect(IPAddress(text)?.description == printed)
    }

    @Test(
        "Invalid addresses are refused",
        arguments: [
            "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1::2::3", ":::", "1:2:3:4:5:6:7:8:9", "g::1",
            "1.2.3.4/8",
        ])
    func badAddresses(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test("Prefixes keep the host address and compute the network")
    func prefixes() throws {
        let p = try #require(IPPrefix("10.22.0.7/24"))
        #expect(p.description == "10.22.0.7/24")
        #expect(p.network == IPAddress("10.22.0.0"))
        #expect(p.contains(IPAddress("10.22.0.200")!))
        #expect(!p.contains(IPAddress("10.23.0.1")!))
        #expect(IPPrefix("10.0.0.0/33") == nil)
        #expect(IPPrefix("fd00::/129") == nil)
        #expect(IPPrefix("fd00::1/64")?.network == IPAddress("fd00::"))
    }

    func config(_ json: String) throws -> NetworkConfig {
        try NetworkConfig(object: #require(try JSONParser.parse(json).objectValue))
    }

    @Test("R45/R46: GC reads cni.dev/valid-attachments, falling back to cni.dev/attachments")
    func gcAttachments() throws {
        let valid = try config(
            #"{"name":"n","cni.dev/valid-attachments":[{"containerID":"ctr1","ifname":"eth0"}],"cni.dev/attachments":[]}"#
        )
        #expect(try valid.validAttachments() == [.init(containerID: "ctr1", ifname: "eth0")])
        let old = try config(#"{"name":"n","cni.dev/attachments":[{"containerID":"c2","ifname":"net1"}]}"#)
        #expect(try old.validAttachments() == [.init(containerID: "c2", ifname: "net1")])
    }

    @Test(
        "R47: null or [] mean no attachment is valid",
        arguments: [#"{"name":"n","cni.dev/valid-attachments":null}"#, #"{"name":"n","cni.dev/valid-attachments":[]}"#])
    func gcEmpty(json: String) throws {
        #expect(try config(json).validAttachments().isEmpty)
    }

    /// Deliberately stricter than R47: a GC that names nothing valid by omission would
    /// collect every attachment of the network, so it is refused with code 7 naming the key.
    @Test(
        "A GC entry without a containerID or an ifname is refused",
        arguments: [
            #"[{"containerID":"gx"}]"#, #"[{"ifname":"eth0"}]"#, #"[{"containerID":"","ifname":"eth0"}]"#,
        ])
    func gcIncompleteEntry(list: String) throws {
        let parsed = try config(#"{"name":"n","cni.dev/valid-attachments":\#(list)}"#)
        #expect(throws: CNIError.self) { try parsed.validAttachments() }
    }

    @Test("GC without the key at all is refused (code 7 naming cni.dev/valid-attachments)")
    func gcWithoutKey() throws {
        let parsed = try config(#"{"name":"n"}"#)
        do {
            _ = try parsed.validAttachments()
            Issue.record("GC without the key was accepted")
        } catch {
            #expect(error.code == .invalidNetworkConfig && error.details.contains("cni.dev/valid-attachments"))
        }
    }
}
