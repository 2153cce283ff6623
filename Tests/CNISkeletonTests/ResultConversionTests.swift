import CNISkeleton
import Testing

@Suite("Results: printing in each version and reading prevResult")
struct ResultConversionTests {
    static let dualStack = CNIResult(
        interfaces: [
            .init(name: "cni0", mac: "3a:1c:00:00:00:01", mtu: 1500),
            .init(
                name: "eth0", mac: "3a:1c:00:00:00:03", mtu: 1500, sandbox: "/run/netns/pod", socketPath: "/s",
                pciID: "0000:04:00.5"),
        ],
        ips: [
            .init(interface: 1, address: IPPrefix("10.22.0.7/24")!, gateway: IPAddress("10.22.0.1")),
            .init(interface: 1, address: IPPrefix("10.23.0.7/24")!),
            .init(interface: 1, address: IPPrefix("fd00:22::7/64")!, gateway: IPAddress("fd00:22::1")),
        ],
        routes: [
            .init(
                dst: IPPrefix("0.0.0.0/0")!, gw: IPAddress("10.22.0.1"), mtu: 1400, advmss: 1360, priority: 100,
                table: 254, scope: 0),
            .init(dst: IPPrefix("::/0")!),
        ],
        dns: .init(nameservers: ["10.22.0.1"], search: ["svc.local"]))

    func object(_ result: CNIResult, _ version: String) throws -> JSONObject {
        try #require(try result.json(version: version).objectValue)
    }

    @Test("R20/R59: 1.1.0 output has every attribute and no ips[].version")
    func current() throws {
        let text = try Self.dualStack.printed(version: "1.1.0")
        #expect(text.contains("\"socketPath\": \"/s\""))
        #expect(text.contains("\"pciID\": \"0000:04:00.5\""))
        #expect(text.contains("\"advmss\": 1360"))
        #expect(text.contains("\"table\": 254"))
        #expect(text.contains("\"scope\": 0"))
        #expect(!text.contains("\"version\""))
    }

    @Test("R59: 1.1.0 attributes round-trip through prevResult unchanged")
    func roundTrip() throws {
        let json = try Self.dualStack.json(version: "1.1.0")
        let back = try CNIResult(json: json, defaultVersion: "1.1.0")
        #expect(back == Self.dualStack)
    }

    @Test(
        "R55/R56: 0.3.0, 0.3.1 and 0.4.0 add ips[].version and drop interface mtu, socketPath, pciID",
        arguments: ["0.3.0", "0.3.1", "0.4.0"])
    func v040(version: String) throws {
        let o = try object(Self.dualStack, version)
        #expect(o["cniVersion"]?.stringValue == version)
        guard case .array(let ips)? = o["ips"], case .array(let interfaces)? = o["interfaces"] else {
            Issue.record("missing ips/interfaces"); return
        }
        #expect(ips.map { $0.objectValue?["version"]?.stringValue } == ["4", "4", "6"])
        #expect(ips.first?.objectValue?.members.map(\.key) == ["version", "interface", "address", "gateway"])
        #expect(interfaces.allSatisfy { $0.objectValue?["mtu"] == nil && $0.objectValue?["pciID"] == nil })
        #expect(o["dns"] != nil)
    }

    @Test("R57: 0.2.0 keeps the first IPv4 and IPv6 address, routes grouped by dst family with dst and gw only")
    func v020() throws {
        let text = try Self.dualStack.printed(version: "0.2.0")
        #expect(
            text == """
                {
                    "cniVersion": "0.2.0",
                    "ip4": {
                        "ip": "10.22.0.7/24",
                        "gateway": "10.22.0.1",
                        "routes": [
                            {
                                "dst": "0.0.0.0/0",
                                "gw": "10.22.0.1"
                            }
                        ]
                    },
                    "ip6": {
                        "ip": "fd00:22::7/64",
                        "gateway": "fd00:22::1",
                        "routes": [
                            {
                                "dst": "::/0"
                            }
                        ]
                    },
                    "dns": {
                        "nameservers": [
                            "10.22.0.1"
                        ],
                        "search": [
                            "svc.local"
                        ]
                    }
                }
                """)
    }

    @Test("R58: 0.2.0 output without any IP is an error")
    func v020NoIP() {
        #expect(throws: CNIError.self) { try CNIResult().json(version: "0.1.0") }
    }

    @Test("R58: an ADD whose result cannot be printed in 0.2.0 fails and is undone with DEL")
    func unprintableResultIsUndone() {
        let env = FakeEnvironment(command: "ADD", stdin: #"{"cniVersion":"0.2.0","name":"n","type":"fake"}"#)
        let plugin = RecordingPlugin()
        plugin.result = CNIResult(interfaces: [.init(name: "eth0")])
        #expect(dispatch(env, plugin) == 1)
        #expect(env.errorMessage == "cannot convert: no valid IP addresses")
        #expect(plugin.calls == [.add, .del])
    }

    @Test("R60: empty dns is omitted in 1.x and printed as {} in 0.x")
    func emptyDNS() throws {
        var result = Self.dualStack
        result.dns = .init()
        #expect(try object(result, "1.0.0")["dns"] == nil)
        #expect(try object(result, "0.4.0")["dns"] == .object(JSONObject()))
    }

    @Test("1.0.0 keeps the 1.1.0-only fields, as Go does")
    func v100KeepsFields() throws {
        #expect(try Self.dualStack.printed(version: "1.0.0").contains("socketPath"))
    }

    @Test(
        "R31/R44: prevResult in each family reads into the same model",
        arguments: [
            (
                "0.4.0",
                #"{"cniVersion":"0.4.0","interfaces":[{"name":"eth0","sandbox":"/ns"}],"ips":[{"version":"4","interface":0,"address":"10.1.0.5/16","gateway":"10.1.0.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}"#
            ),
            (
                "1.0.0",
                #"{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/ns"}],"ips":[{"interface":0,"address":"10.1.0.5/16","gateway":"10.1.0.1"}],"routes":[{"dst":"0.0.0.0/0"}]}"#
            ),
            (
                "1.1.0",
                #"{"interfaces":[{"name":"eth0","sandbox":"/ns"}],"ips":[{"interface":0,"address":"10.1.0.5/16","gateway":"10.1.0.1"}],"routes":[{"dst":"0.0.0.0/0"}]}"#
            ),
        ])
    func prevResult(version: String, json: String) throws {
        let result = try CNIResult(json: JSONParser.parse(json), defaultVersion: version)
        #expect(result.ips.first?.address.description == "10.1.0.5/16")
        #expect(result.ips.first?.interface == 0)
        #expect(result.interfaces.first?.sandbox == "/ns")
        #expect(result.routes.count == 1)
    }

    @Test("0.2.0 prevResult up-converts: ip4 then ip6, their routes become top-level routes")
    func up020() throws {
        let json =
            #"{"cniVersion":"0.2.0","ip4":{"ip":"10.1.0.5/16","routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1"}]},"ip6":{"ip":"fd00::5/64"}}"#
        let result = try CNIResult(json: JSONParser.parse(json), defaultVersion: "0.2.0")
        #expect(result.ips.map(\.address.description) == ["10.1.0.5/16", "fd00::5/64"])
        #expect(result.ips.allSatisfy { $0.interface == nil })
        #expect(result.routes.first?.gw == IPAddress("10.1.0.1"))
    }

    @Test("R23: a pass-through result equals prevResult apart from cniVersion")
    func passThrough() throws {
        let prev =
            #"{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","mac":"aa:bb:cc:dd:ee:ff","sandbox":"/ns"}],"ips":[{"interface":0,"address":"10.1.0.5/16"}],"dns":{"nameservers":["1.1.1.1"]}}"#
        var result = try CNIResult(json: JSONParser.parse(prev), defaultVersion: "1.0.0")
        result.cniVersion = "1.0.0"
        let printed = try JSONParser.parse(result.printed(version: "1.0.0"))
        #expect(printed == (try JSONParser.parse(prev)))
    }

    @Test(
        "A bad address in a result is a decoding error, never a crash",
        arguments: [
            #"{"ips":[{"address":"10.0.0.1"}]}"#, #"{"ips":[{"address":"300.0.0.1/8"}]}"#,
            #"{"routes":[{"dst":5}]}"#, #"{"interfaces":"x"}"#, #"{"ips":[{"interface":-1,"address":"1.2.3.4/8"}]}"#,
            "[]",
        ])
    func badResult(json: String) throws {
        #expect(throws: ResultDecodingError.self) {
            try CNIResult(json: JSONParser.parse(json), defaultVersion: "1.0.0")
        }
    }

    @Test("R13: a config without cniVersion is 0.1.0 and gets the ip4/ip6 format")
    func missingVersion() {
        let env = FakeEnvironment(command: "ADD", stdin: #"{"name":"n","type":"fake"}"#)
        #expect(dispatch(env) == 0)
        #expect(env.stdoutObject?["cniVersion"]?.stringValue == "0.1.0")
        #expect(env.stdoutObject?["ip4"] != nil)
        #expect(env.stdoutObject?["interfaces"] == nil)
    }

    @Test("R35: DEL with an empty prevResult object succeeds and reads as an empty result")
    func emptyPrevResult() throws {
        let env = FakeEnvironment(command: "DEL", stdin: #"{"cniVersion":"1.0.0","name":"n","prevResult":{}}"#)
        let plugin = RecordingPlugin()
        #expect(dispatch(env, plugin) == 0)
        #expect(try plugin.requests.first?.config.prevResult() == CNIResult(cniVersion: "1.0.0"))
    }

    @Test("A plugin that needs prevResult gets code 7 with the reference's message when it is absent")
    func requiredPrevResult() throws {
        let env = FakeEnvironment(command: "CHECK", stdin: #"{"cniVersion":"1.0.0","name":"n"}"#)
        let plugin = RecordingPlugin()
        _ = dispatch(env, plugin)
        let config = try #require(plugin.requests.first?.config)
        #expect(throws: CNIError(.invalidNetworkConfig, "ptp: Required prevResult missing")) {
            try config.requiredPrevResult(prefix: "ptp: ")
        }
    }
}
