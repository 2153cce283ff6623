@testable import BandwidthPlugin
@testable import BridgePlugin
import CNISkeleton
@testable import DhcpPlugin
@testable import FirewallPlugin
@testable import HostDevicePlugin
import IPAM
@testable import IpvlanPlugin
@testable import MacvlanPlugin
@testable import Netfilter
import Netlink
@testable import PortmapPlugin
@testable import PtpPlugin
@testable import SbrPlugin
@testable import TapPlugin
@testable import TuningPlugin
@testable import VlanPlugin
@testable import VrfPlugin

/// The fuzz targets: each takes arbitrary bytes through one of the readers that face input a
/// runtime, an operator or the kernel controls. Whatever the bytes, a reader returns a value
/// or an error; a trap, a crash or a leak is a bug. `Scripts/fuzz.sh` runs them under
/// libFuzzer; `FuzzRegressionTests` runs the corpus and every input that ever crashed.
enum FuzzHarness {
    static let targets: [String: @Sendable ([UInt8]) -> Void] = [
        "json": json, "config": config, "result": result, "args": args, "netlink": netlink, "nft": nft,
        "dhcp": dhcp, "lease": lease,
    ]

    /// The JSON reader and writer: parse, and print what parsed.
    static func json(_ bytes: [UInt8]) {
        guard let value = try? JSONParser.parse(bytes) else { return }
        _ = JSONWriter.compact(value)
        _ = JSONWriter.indented(value)
    }

    static func request(_ bytes: [UInt8], _ command: CNICommand = .add) -> CNIRequest? {
        guard let value = try? JSONParser.parse(bytes), case .object(let object) = value,
            let config = try? NetworkConfig(object: object)
        else { return nil }
        return CNIRequest(
            command: command, containerID: "fuzz", netns: "/run/netns/fuzz", ifname: "eth0", args: CNIArgs(""),
            path: [], stdin: bytes, config: config)
    }

    /// Every plugin's config decoding (what ADD reads before touching the kernel).
    static func config(_ bytes: [UInt8]) {
        guard let request = request(bytes) else { return }
        _ = try? BridgeConfig(request)
        _ = BridgeConfig.Teardown(request)
        _ = try? PtpPlugin.Config(request)
        _ = try? MacvlanPlugin(kernel: .live).flow(request)
        _ = try? IpvlanPlugin(kernel: .live).flow(request)
        _ = try? VlanPlugin(kernel: .live).flow(request)
        _ = try? PortmapConfig(request)
        _ = try? FirewallConfig(request)
        _ = try? BandwidthLimits(request)
        _ = try? TuningConfig(request)
        _ = try? HostDeviceConfig(request)
        _ = try? TapPlugin.Config(request)
        _ = try? SbrConfig(request)
        _ = try? VrfPlugin.Config(request)
        _ = try? DhcpConfig(request.config)
        _ = try? HostLocalConfig(request.config, args: request.args)
        _ = try? StaticConfig(request.config, args: request.args)
        _ = try? request.config.validAttachments()
        _ = try? request.config.ipamType()
    }

    /// prevResult in every version, and its conversion to every version.
    static func result(_ bytes: [UInt8]) {
        guard let value = try? JSONParser.parse(bytes) else { return }
        for version in SpecVersion.all {
            guard let decoded = try? CNIResult(json: value, defaultVersion: version) else { continue }
            for target in SpecVersion.all { _ = try? decoded.printed(version: target) }
        }
        _ = try? request(bytes)?.config.prevResult()
    }

    /// CNI_ARGS, as the skeleton and the IPAM plugins read it.
    static func args(_ bytes: [UInt8]) {
        let args = CNIArgs(String(decoding: bytes, as: UTF8.self))
        _ = try? args.parse()
        _ = try? args.parse(known: ["IP", "MAC", "GATEWAY", "K8S_POD_NAME"])
        _ = try? args.value("IP", known: ["IP"])
    }

    /// Kernel replies: messages, attributes, and every object parser.
    static func netlink(_ bytes: [UInt8]) {
        _ = try? AttributeReader.read(bytes[...])
        guard let messages = try? NetlinkMessage.parse(bytes) else { return }
        for message in messages {
            _ = try? Link(payload: message.payload)
            _ = try? InterfaceAddress(payload: message.payload)
            _ = try? RouteSpec(payload: message.payload)
            _ = try? RuleSpec(payload: message.payload)
            _ = try? NeighbourSpec(payload: message.payload)
            _ = try? TrafficObject(payload: message.payload)
            _ = try? NetlinkConnection.checkError(message, operation: "fuzz")
        }
    }

    /// nftables rules and set elements as the kernel lists them: the full decoder, the summary
    /// and the element reader.
    static func nft(_ bytes: [UInt8]) {
        guard let messages = try? NetlinkMessage.parse(bytes) else { return }
        for message in messages {
            _ = NFTClient.decodeRule(message)
            _ = NFTClient.summary(of: message)
            _ = NFTClient.decodeElements(message)
        }
    }

    /// A lease the dhcp daemon saved, as a restarted daemon reads it back.
    static func lease(_ bytes: [UInt8]) {
        _ = LeaseStore.decode(bytes, DHCPTiming(), false)
    }

    /// DHCP packets and their options, as the daemon reads a server's replies.
    static func dhcp(_ bytes: [UInt8]) {
        guard let message = DHCPMessage(bytes: bytes) else {
            _ = DHCPLease.classlessRoutes(bytes)
            _ = DHCPLease.staticRoutes(bytes)
            return
        }
        _ = message.encoded()
        _ = try? DHCPLease(ack: message)
    }
}
