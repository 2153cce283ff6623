import CNISkeleton
import Testing

@Suite("Dispatch: environment, stdin and version checks")
struct DispatchTests {
    @Test("R1: VERSION with no other variables prints every supported version")
    func versionOutput() {
        let env = FakeEnvironment(["CNI_COMMAND": "VERSION"], stdin: #"{"cniVersion":"1.1.0"}"#)
        #expect(dispatch(env) == 0)
        #expect(
            env.stdout
                == #"{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}"#
                + "\n")
    }

    @Test("R2: VERSION never reads stdin, so garbage or nothing there is fine")
    func versionIgnoresStdin() {
        let env = FakeEnvironment(["CNI_COMMAND": "VERSION"], stdin: "{not json")
        #expect(dispatch(env) == 0)
        #expect(env.stdinReads == 0)
    }

    @Test("R3: VERSION with libcni's probe environment")
    func versionProbe() {
        let env = FakeEnvironment([
            "CNI_COMMAND": "VERSION", "CNI_CONTAINERID": "", "CNI_NETNS": "dummy",
            "CNI_IFNAME": "dummy", "CNI_PATH": "dummy", "CNI_ARGS": "",
        ])
        #expect(dispatch(env) == 0)
        #expect(env.stdout.contains("supportedVersions"))
    }

    @Test("R4: no CNI_COMMAND prints the about line and versions to stderr and exits 0")
    func about() {
        let env = FakeEnvironment([:])
        #expect(dispatch(env) == 0)
        #expect(env.stdout.isEmpty)
        #expect(env.stderr.hasPrefix("CNI fake plugin swift-cni v"))
        #expect(
            env.stderr.contains("CNI protocol versions supported: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0\n"))
    }

    @Test("R5: an unknown or lowercase command is error 4", arguments: ["FOO", "add"])
    func unknownCommand(command: String) {
        let env = FakeEnvironment(command: command)
        #expect(dispatch(env) == 1)
        #expect(env.errorCode == 4)
        #expect(env.errorMessage == "unknown CNI_COMMAND: \(command)")
    }

    @Test("R6: ADD without container, netns and ifname names all three at once")
    func missingAll() {
        let env = FakeEnvironment(["CNI_COMMAND": "ADD", "CNI_PATH": "/opt/cni/bin"])
        #expect(dispatch(env) == 1)
        #expect(env.errorCode == 4)
        #expect(env.errorMessage == "required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME] missing")
    }

    static let requiredCases: [(String, String)] = [
        ("ADD", "CNI_CONTAINERID"), ("ADD", "CNI_NETNS"), ("ADD", "CNI_IFNAME"), ("ADD", "CNI_PATH"),
        ("DEL", "CNI_CONTAINERID"), ("DEL", "CNI_IFNAME"), ("DEL", "CNI_PATH"),
        ("CHECK", "CNI_CONTAINERID"), ("CHECK", "CNI_NETNS"), ("CHECK", "CNI_IFNAME"), ("CHECK", "CNI_PATH"),
        ("GC", "CNI_PATH"), ("STATUS", "CNI_PATH"),
    ]

    @Test("R7/R8: each required variable, unset or empty, is error 4 naming it", arguments: requiredCases)
    func requiredVariable(command: String, variable: String) {
        for empty in [false, true] {
            let env = FakeEnvironment(command: command)
            if empty { env.variables[variable] = "" } else { env.variables.removeValue(forKey: variable) }
            #expect(dispatch(env) == 1)
            #expect(env.errorCode == 4)
            #expect(env.errorMessage == "required env variables [\(variable)] missing")
        }
    }

    static let optionalCases: [(String, String)] = [
        ("DEL", "CNI_NETNS"), ("ADD", "CNI_ARGS"), ("GC", "CNI_CONTAINERID"), ("GC", "CNI_NETNS"),
        ("GC", "CNI_IFNAME"), ("STATUS", "CNI_CONTAINERID"), ("STATUS", "CNI_IFNAME"),
    ]

    @Test("R7: optional variables may be missing", arguments: optionalCases)
    func optionalVariable(command: String, variable: String) {
        let env = FakeEnvironment(command: command)
        env.variables.removeValue(forKey: variable)
        let plugin = RecordingPlugin()
        #expect(dispatch(env, plugin) == 0, "\(env.stdout)")
        #expect(plugin.calls.map(\.rawValue) == [command])
    }

    @Test("R9: invalid container IDs are error 4", arguments: ["-abc", "_x", ".x", "a b", "a/b", "a:b", "ctr√"])
    func invalidContainerID(id: String) {
        for command in ["ADD", "DEL", "CHECK"] {
            let env = FakeEnvironment(command: command)
            env.variables["CNI_CONTAINERID"] = id
            #expect(dispatch(env) == 1)
            #expect(env.errorCode == 4)
            #expect(env.errorMessage == "invalid characters in containerID")
        }
    }

    @Test(
        "R9: valid container IDs pass",
        arguments: ["a", "A1", "a_b.c-d", String(repeating: "0123456789abcdef", count: 4)])
    func validContainerID(id: String) {
        let env = FakeEnvironment(command: "ADD")
        env.variables["CNI_CONTAINERID"] = id
        #expect(dispatch(env) == 0)
    }

    @Test("R9: an invalid container ID is reported before a missing ifname (skel's order)")
    func validationOrder() {
        let env = FakeEnvironment(command: "ADD")
        env.variables["CNI_CONTAINERID"] = "-bad"
        env.variables["CNI_IFNAME"] = nil
        #expect(dispatch(env) == 1)
        #expect(env.errorMessage == "invalid characters in containerID")
    }

    @Test(
        "R10: invalid interface names are error 4",
        arguments: ["abcdefghijklmnop", ".", "..", "eth/0", "eth:0", "eth 0", "eth\t0", "eth\u{a0}0"])
    func invalidIfname(name: String) {
        let env = FakeEnvironment(command: "ADD")
        env.variables["CNI_IFNAME"] = name
        #expect(dispatch(env) == 1)
        #expect(env.errorCode == 4)
    }

    @Test("R10: a 15-byte interface name passes")
    func longestIfname() {
        let env = FakeEnvironment(command: "ADD")
        env.variables["CNI_IFNAME"] = "abcdefghijklmno"
        #expect(dispatch(env) == 0)
    }

    @Test(
        "R11: invalid JSON is error 6 for every command but VERSION",
        arguments: ["ADD", "DEL", "CHECK", "GC", "STATUS"])
    func invalidJSON(command: String) {
        let env = FakeEnvironment(command: command, stdin: "{not json")
        #expect(dispatch(env) == 1)
        #expect(env.errorCode == 6)
        #expect(env.errorMessage?.hasPrefix("error unmarshall network config: invalid character 'n'") == true)
    }

    @Test(
        "R12: missing or invalid network names are error 7",
        arguments: [
            #"{"cniVersion":"1.1.0"}"#, #"{"cniVersion":"1.1.0","name":""}"#,
            #"{"cniVersion":"1.1.0","name":"-bad"}"#, #"{"cniVersion":"1.1.0","name":"a b"}"#,
        ])
    func invalidName(stdin: String) {
        let env = FakeEnvironment(command: "ADD", stdin: stdin)
        #expect(dispatch(env) == 1)
        #expect(env.errorCode == 7)
    }

    @Test(
        "R14: unsupported versions on ADD are error 1 with the version in details",
        arguments: ["9.9.9", "1.2.0", "1.1", "v1.1.0", "1.1.0-dev"])
    func unsupportedVersion(version: String) {
        let env = FakeEnvironment(command: "ADD", stdin: #"{"cniVersion":"\#(version)","name":"n"}"#)
        #expect(dispatch(env) == 1)
        #expect(env.errorCode == 1)
        #expect(env.errorMessage == "incompatible CNI versions")
        #expect(env.stdoutObject?["details"]?.stringValue?.contains("config is \"\(version)\"") == true)
    }

    @Test("R15: CHECK below 0.4.0, GC and STATUS below 1.1.0 are error 1")
    func versionFloors() {
        for (command, version, message) in [
            ("CHECK", "0.3.1", "config version does not allow CHECK"),
            ("GC", "1.0.0", "config version does not allow GC"),
            ("STATUS", "1.0.0", "config version does not allow STATUS"),
        ] {
            let env = FakeEnvironment(command: command, stdin: #"{"cniVersion":"\#(version)","name":"n"}"#)
            #expect(dispatch(env) == 1)
            #expect(env.errorCode == 1)
            #expect(env.errorMessage == message)
        }
    }

    @Test("R15: an unparsable version on CHECK, GC or STATUS is error 6", arguments: ["CHECK", "GC", "STATUS"])
    func unparsableVersion(command: String) {
        let env = FakeEnvironment(command: command, stdin: #"{"cniVersion":"x.y","name":"n"}"#)
        #expect(dispatch(env) == 1)
        #expect(env.errorCode == 6)
    }

    @Test("R16/R17: errors are one JSON object with code, msg and the request's cniVersion; empty details left out")
    func errorShape() {
        let env = FakeEnvironment(command: "ADD", stdin: #"{"cniVersion":"0.4.0","name":"n"}"#)
        let plugin = RecordingPlugin()
        plugin.failure = CNIError(.tryAgainLater, "busy")
        #expect(dispatch(env, plugin) == 1)
        #expect(env.stdout == "{\n    \"cniVersion\": \"0.4.0\",\n    \"code\": 11,\n    \"msg\": \"busy\"\n}")
    }

    @Test("R17: errors before the config is read carry cniVersion 1.1.0")
    func errorVersionUnknown() {
        let env = FakeEnvironment(["CNI_COMMAND": "ADD"])
        dispatch(env)
        #expect(env.stdoutObject?["cniVersion"]?.stringValue == "1.1.0")
    }

    @Test("R18/R38: DEL, CHECK, GC and STATUS print nothing on success", arguments: ["DEL", "CHECK", "GC", "STATUS"])
    func silentSuccess(command: String) {
        let env = FakeEnvironment(command: command)
        #expect(dispatch(env) == 0)
        #expect(env.stdout.isEmpty)
    }

    struct Boom: Error, CustomStringConvertible { var description: String { "netlink said no" } }

    @Test("R19: an untyped failure becomes error 999 with its text")
    func internalError() {
        let env = FakeEnvironment(command: "ADD")
        let plugin = RecordingPlugin()
        plugin.failure = Boom()
        #expect(dispatch(env, plugin) == 1)
        #expect(env.errorCode == 999)
        #expect(env.errorMessage == "netlink said no")
    }

    @Test("Code 8: ADD and DEL refuse the plugin's own netns unless CNI_NETNS_OVERRIDE is set")
    func ownNetns() {
        for command in ["ADD", "DEL"] {
            let env = FakeEnvironment(command: command)
            env.ownNetns = ["/run/netns/pod"]
            let plugin = RecordingPlugin()
            #expect(dispatch(env, plugin) == 1)
            #expect(env.errorCode == 8)
            #expect(plugin.calls.isEmpty, "the check runs before any work")
            for value in ["1", "true", "TRUE"] {
                let overridden = FakeEnvironment(command: command)
                overridden.ownNetns = ["/run/netns/pod"]
                overridden.variables["CNI_NETNS_OVERRIDE"] = value
                #expect(dispatch(overridden) == 0)
            }
        }
    }

    @Test("The handler receives the environment, CNI_PATH split, and stdin unchanged")
    func requestContents() throws {
        let stdin = #"{"cniVersion":"1.0.0","name":"net1","type":"fake","ipam":{"type":"host-local"}}"#
        let env = FakeEnvironment(command: "ADD", stdin: stdin)
        env.variables["CNI_PATH"] = "/a:/b"
        env.variables["CNI_ARGS"] = "K8S_POD_NAME=p"
        let plugin = RecordingPlugin()
        #expect(dispatch(env, plugin) == 0)
        let request = try #require(plugin.requests.first)
        #expect(request.path == ["/a", "/b"])
        #expect(request.args.raw == "K8S_POD_NAME=p")
        #expect(request.stdin == Array(stdin.utf8))
        #expect(request.config.name == "net1")
        #expect(try request.config.ipamType() == "host-local")
    }

    @Test("R29: stdin with capabilities, runtimeConfig, args and cni.dev keys is accepted")
    func reservedKeys() {
        let stdin =
            #"{"cniVersion":"1.1.0","name":"n","type":"fake","capabilities":{"mac":true},"runtimeConfig":{"mac":"c2:11:22:33:44:55"},"args":{"cni":{"ips":["10.0.0.1"]}},"cni.dev/whatever":1}"#
        #expect(dispatch(FakeEnvironment(command: "ADD", stdin: stdin)) == 0)
    }

    @Test("A config carrying cniVersions is answered in its negotiated cniVersion")
    func cniVersions() {
        let env = FakeEnvironment(
            command: "ADD",
            stdin: #"{"cniVersion":"0.4.0","cniVersions":["0.4.0","1.0.0","1.1.0"],"name":"n","type":"fake"}"#)
        #expect(dispatch(env) == 0)
        #expect(env.stdoutObject?["cniVersion"]?.stringValue == "0.4.0")
    }
}
