import Glibc
import BandwidthPlugin
import BridgePlugin
import CNISkeleton
import CNISystem
import DhcpPlugin
import DummyPlugin
import FirewallPlugin
import HostDevicePlugin
import HostLocalPlugin
import Installer
import IpvlanPlugin
import LoopbackPlugin
import MacvlanPlugin
import PortmapPlugin
import PtpPlugin
import SbrPlugin
import StaticPlugin
import TapPlugin
import TuningPlugin
import VlanPlugin
import VrfPlugin

// The multi-call binary: installed once, hard-linked under every plugin name, it runs the
// plugin named by basename(argv[0]) (see ARCHITECTURE.md). Only that plugin is made: making
// all of them would run every module's initialisation and map its code on each start-up.
let plugins: [String: () -> any CNIPlugin] = [
    "bandwidth": { BandwidthPlugin.plugin },
    "bridge": { BridgePlugin.plugin },
    "dhcp": { DhcpPlugin.plugin },
    "dummy": { DummyPlugin.plugin },
    "firewall": { FirewallPlugin.plugin },
    "host-device": { HostDevicePlugin.plugin },
    "host-local": { HostLocalPlugin.plugin },
    "ipvlan": { IpvlanPlugin.plugin },
    "loopback": { LoopbackPlugin.plugin },
    "macvlan": { MacvlanPlugin.plugin },
    "portmap": { PortmapPlugin.plugin },
    "ptp": { PtpPlugin.plugin },
    "sbr": { SbrPlugin.plugin },
    "static": { StaticPlugin.plugin },
    "tap": { TapPlugin.plugin },
    "tuning": { TuningPlugin.plugin },
    "vlan": { VlanPlugin.plugin },
    "vrf": { VrfPlugin.plugin },
]

// Delegation to a plugin that is this same binary (host-local under bridge) runs in-process.
Delegate.linkedPlugins = plugins

// First of all: a helper releasing a netfilter socket for a plugin that has exited.
DeferredClose.runHelperIfAsked()

let invokedAs = String(CommandLine.arguments.first?.split(separator: "/").last ?? "cni-plugins")
if invokedAs == "dhcp" { DhcpPlugin.runDaemonIfAsked() }
if invokedAs == "cni-plugins", CommandLine.arguments.dropFirst().first == "install" {
    exit(InstallCommand.run(Array(CommandLine.arguments.dropFirst(2)), plugins: plugins.keys.sorted()))
}
// The plugin names, one a line: what install.sh links and the tests check against Package.swift.
if invokedAs == "cni-plugins", CommandLine.arguments.dropFirst().first == "--list" {
    ProcessEnvironment().writeStdout(plugins.keys.sorted().map { $0 + "\n" }.joined())
    exit(0)
}
// The DaemonSet's long-running container: sleep until stopped. As a container's PID 1 a
// default SIGTERM would be ignored, so it is handled explicitly.
if invokedAs == "cni-plugins", CommandLine.arguments.dropFirst().first == "pause" {
    _ = signal(SIGTERM) { _ in _exit(0) }
    _ = signal(SIGINT) { _ in _exit(0) }
    while true { _ = pause() }
}
if let plugin = plugins[invokedAs] {
    PluginMain.run(plugin())
}
let usage = """
    cni-plugins: swift-cni v\(swiftCNIVersion), a multi-call binary of CNI plugins.
    Run it through a link named after a plugin: \(plugins.keys.sorted().joined(separator: ", ")).
    `cni-plugins install --help` installs it (and a conflist) onto a node.

    """
ProcessEnvironment().writeStderr(usage)
exit(invokedAs == "cni-plugins" ? 0 : 1)
