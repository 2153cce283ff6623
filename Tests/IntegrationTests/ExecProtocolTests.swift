import Foundation
import Testing
import TestSupport

/// The built binaries, exec'd exactly as a runtime execs them: the protocol errors of
/// Go skel's order with their codes, a JSON error on stdout and exit 1.
@Suite("Exec: VERSION and every protocol error path of the installed binaries")
struct ExecProtocolTests {
    static let config = #"{"cniVersion":"1.1.0","name":"testnet","type":"loopback"}"#

    func invoke(_ command: String, stdin: String = config, _ change: (inout PluginInvocation) -> Void = { _ in }) throws
        -> CommandResult
    {
        var invocation = PluginInvocation(plugin: "loopback", command: command)
        invocation.netns = "/run/netns/cnit-does-not-exist"
        change(&invocation)
        return try invocation.run(stdin: stdin)
    }

    func expectError(
        _ result: CommandResult, code: Int, message: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(result.status == 1, "\(result)", sourceLocation: sourceLocation)
        let object = try result.object()
        #expect(object["code"] as? Int == code, "\(result)", sourceLocation: sourceLocation)
        #expect(object["msg"] is String, sourceLocation: sourceLocation)
        if let message { #expect(object["msg"] as? String == message, sourceLocation: sourceLocation) }
    }

    @Test(
        "R1/R2: every plugin name answers VERSION with no other variable and garbage on stdin",
        arguments: TestEnvironment.pluginNames)
    func version(plugin: String) throws {
        let result = try Command.run(
            [TestEnvironment.plugin(plugin)], environment: ["CNI_COMMAND": "VERSION"], stdin: "{not json")
        #expect(result.status == 0, "\(result)")
        // bandwidth speaks 0.3.0 and later only and vrf 0.3.1 and later, as the reference does;
        // firewall 0.3.0 and later (the reference: 0.4.0), so 0.3.1 chains with firewall can be
        // set up and torn down.
        let versions =
            [
                "bandwidth": #""0.3.0","0.3.1","0.4.0","1.0.0","1.1.0""#,
                "firewall": #""0.3.0","0.3.1","0.4.0","1.0.0","1.1.0""#,
                "vrf": #""0.3.1","0.4.0","1.0.0","1.1.0""#,
            ][plugin] ?? #""0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0""#
        #expect(result.stdout == #"{"cniVersion":"1.1.0","supportedVersions":[\#(versions)]}"# + "\n")
    }

    @Test("The multi-call binary's registry is Package.swift's plugin list")
    func registry() throws {
        let listed = try Command.run([TestEnvironment.multiCallBinary, "--list"], environment: [:])
        #expect(listed.status == 0, "\(listed)")
        #expect(
            TestEnvironment.pluginNames.count >= 12, "Package.swift's list was read: \(TestEnvironment.pluginNames)")
        #expect(listed.stdout.split(separator: "\n").map(String.init) == TestEnvironment.pluginNames)
    }

    @Test(
        "The installed binaries are static: no shared library, so no host requirement",
        .enabled(
            if: ProcessInfo.processInfo.environment["SWIFT_CNI_BIN_DIR"] != nil,
            "only for the installed release build (Scripts/test.sh)"))
    func staticBinaries() throws {
        let result = try Command.run(["ldd", TestEnvironment.plugin("bridge")])
        #expect(
            result.stdout.contains("not a dynamic executable") || result.stderr.contains("not a dynamic executable"),
            "\(result)")
    }

    @Test(
        "install.sh --separate gives one self-contained static executable per plugin",
        .enabled(
            if: ProcessInfo.processInfo.environment["SWIFT_CNI_SEPARATE_DIR"] != nil,
            "only with Scripts/test.sh, which installs them"))
    func separateInstall() throws {
        let dir = ProcessInfo.processInfo.environment["SWIFT_CNI_SEPARATE_DIR"]!
        for name in TestEnvironment.pluginNames {
            let path = dir + "/" + name
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.referenceCount] as? Int) == 1, "\(name) is its own file, not a hard link")
            let result = try Command.run([path], environment: ["CNI_COMMAND": "VERSION"])
            #expect(result.status == 0 && result.stdout.contains("supportedVersions"), "\(name): \(result)")
        }
        let ldd = try Command.run(["ldd", dir + "/bridge"])
        #expect((ldd.stdout + ldd.stderr).contains("not a dynamic executable"))
    }

    @Test("R3: VERSION with libcni's probe environment")
    func versionProbe() throws {
        let result = try Command.run(
            [TestEnvironment.plugin("loopback")],
            environment: [
                "CNI_COMMAND": "VERSION", "CNI_CONTAINERID": "", "CNI_NETNS": "dummy", "CNI_IFNAME": "dummy",
                "CNI_PATH": "dummy", "CNI_ARGS": "",
            ], stdin: #"{"cniVersion":"1.0.0"}"#)
        #expect(result.status == 0)
    }

    @Test("R4: no CNI_COMMAND prints the about text on stderr and exits 0")
    func about() throws {
        let result = try Command.run([TestEnvironment.plugin("loopback")], environment: [:])
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("CNI loopback plugin swift-cni"))
        #expect(
            result.stderr.contains("CNI protocol versions supported: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0"))
    }

    @Test("R5: unknown command")
    func unknownCommand() throws {
        try expectError(try invoke("FOO"), code: 4, message: "unknown CNI_COMMAND: FOO")
    }

    @Test("R6/R7/R8: missing or empty variables")
    func missing() throws {
        try expectError(
            try invoke("ADD") { $0.unset = ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"] }, code: 4,
            message: "required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME] missing")
        try expectError(
            try invoke("DEL") { $0.path = "" }, code: 4, message: "required env variables [CNI_PATH] missing")
        try expectError(
            try invoke("CHECK") { $0.netns = "" }, code: 4, message: "required env variables [CNI_NETNS] missing")
        try expectError(
            try invoke("GC", stdin: #"{"cniVersion":"1.1.0","name":"n"}"#) { $0.unset = ["CNI_PATH"] }, code: 4)
    }

    @Test("R9/R10: invalid container ID and interface name")
    func invalidIdentifiers() throws {
        try expectError(
            try invoke("ADD") { $0.containerID = "-abc" }, code: 4, message: "invalid characters in containerID")
        try expectError(
            try invoke("ADD") { $0.ifname = "abcdefghijklmnop" }, code: 4, message: "interface name is too long")
        try expectError(try invoke("DEL") { $0.ifname = "eth:0" }, code: 4)
    }

    @Test("R11: bad JSON is error 6")
    func badJSON() throws {
        try expectError(try invoke("ADD", stdin: "{not json"), code: 6)
    }

    @Test("R12: bad or missing network name is error 7")
    func badName() throws {
        try expectError(try invoke("ADD", stdin: #"{"cniVersion":"1.1.0"}"#), code: 7, message: "missing network name")
        try expectError(
            try invoke("ADD", stdin: #"{"cniVersion":"1.1.0","name":"a b"}"#), code: 7,
            message: "invalid characters found in network name")
    }

    @Test("R14: unsupported version is error 1 with the version in details")
    func unsupportedVersion() throws {
        let result = try invoke("ADD", stdin: #"{"cniVersion":"9.9.9","name":"n"}"#)
        try expectError(result, code: 1, message: "incompatible CNI versions")
        #expect((try result.object()["details"] as? String)?.contains("9.9.9") == true)
    }

    @Test("R15: CHECK below 0.4.0, GC and STATUS below 1.1.0")
    func versionGates() throws {
        try expectError(
            try invoke("CHECK", stdin: #"{"cniVersion":"0.3.1","name":"n"}"#), code: 1,
            message: "config version does not allow CHECK")
        try expectError(
            try invoke("GC", stdin: #"{"cniVersion":"1.0.0","name":"n"}"#), code: 1,
            message: "config version does not allow GC")
        try expectError(
            try invoke("STATUS", stdin: #"{"cniVersion":"1.0.0","name":"n"}"#), code: 1,
            message: "config version does not allow STATUS")
        try expectError(try invoke("STATUS", stdin: #"{"cniVersion":"x.y","name":"n"}"#), code: 6)
    }

    @Test("R51/R45: GC and STATUS on loopback succeed silently")
    func gcStatus() throws {
        for command in ["GC", "STATUS"] {
            let result = try invoke(command) {
                $0.containerID = ""; $0.netns = ""; $0.ifname = ""
            }
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test("macvlan and ipvlan pass STATUS and GC to their IPAM plugin", arguments: ["macvlan", "ipvlan"])
    func childLinkDelegation(plugin: String) throws {
        for command in ["STATUS", "GC"] {
            var invocation = PluginInvocation(plugin: plugin, command: command)
            (invocation.containerID, invocation.netns, invocation.ifname) = ("", "", "")
            let result = try invocation.run(
                stdin: #"{"cniVersion":"1.1.0","name":"n","type":"\#(plugin)","ipam":{"type":"cnit-no-such-ipam"}}"#)
            #expect(
                try result.status == 1
                    && (result.object()["msg"] as? String)?.hasPrefix("failed to find plugin \"cnit-no-such-ipam\"")
                        == true,
                "\(command): \(result)")
        }
    }

    @Test("dhcp without its daemon: ADD is error 999 naming the socket; DEL succeeds")
    func dhcpWithoutDaemon() throws {
        let config =
            #"{"cniVersion":"1.0.0","name":"n","type":"dhcp","ipam":{"type":"dhcp","daemonSocketPath":"/run/cnit-no-such/dhcp.sock"}}"#
        var invocation = PluginInvocation(plugin: "dhcp", command: "ADD")
        invocation.netns = "/run/netns/cnit-none"
        let result = try invocation.run(stdin: config)
        try expectError(
            result, code: 999,
            message: "error dialing DHCP daemon: dial unix /run/cnit-no-such/dhcp.sock: No such file or directory")
        invocation.command = "DEL"
        #expect(try invocation.run(stdin: config).status == 0)
    }
}
