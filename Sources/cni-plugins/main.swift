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
// A switch, not a dictionary of closures: the dictionary's generic metadata was built at run
// time from its mangled name, 50-100 µs of every start (2,000 VERSION runs, both ways).
func linkedPlugin(_ name: String) -> (any CNIPlugin)? {
    switch name {
    case "bandwidth": return BandwidthPlugin.plugin
    case "bridge": return BridgePlugin.plugin
    case "dhcp": return DhcpPlugin.plugin
    case "dummy": return DummyPlugin.plugin
    case "firewall": return FirewallPlugin.plugin
    case "host-device": return HostDevicePlugin.plugin
    case "host-local": return HostLocalPlugin.plugin
    case "ipvlan": return IpvlanPlugin.plugin
    case "loopback": return LoopbackPlugin.plugin
    case "macvlan": return MacvlanPlugin.plugin
    case "portmap": return PortmapPlugin.plugin
    case "ptp": return PtpPlugin.plugin
    case "sbr": return SbrPlugin.plugin
    case "static": return StaticPlugin.plugin
    case "tap": return TapPlugin.plugin
    case "tuning": return TuningPlugin.plugin
    case "vlan": return VlanPlugin.plugin
    case "vrf": return VrfPlugin.plugin
    default: return nil
    }
}

/// Every name `linkedPlugin` answers, sorted. Only the names it does answer are listed and
/// installed, so a name missing from the switch is missing from `--list` too, which the tests
/// compare with Package.swift's plugins. A function: main.swift's globals are made at every
/// start, and this one makes every plugin.
func pluginNames() -> [String] {
    [
        "bandwidth",
        "bridge",
        "dhcp",
        "dummy",
        "firewall",
        "host-device",
        "host-local",
        "ipvlan",
        "loopback",
        "macvlan",
        "portmap",
        "ptp",
        "sbr",
        "static",
        "tap",
        "tuning",
        "vlan",
        "vrf",
    ].filter { linkedPlugin($0) != nil }
}

// Delegation to a plugin that is this same binary (host-local under bridge) runs in-process.
Delegate.linkedPlugin = linkedPlugin

// First of all: a helper releasing a netfilter socket for a plugin that has exited.
DeferredClose.runHelperIfAsked()

// The basename without split(): its array of substrings cost 3% of a bridge ADD's
// user time.
let invokedAs: String = {
    guard let path = CommandLine.arguments.first, !path.isEmpty else { return "cni-plugins" }
    guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return path }
    let name = String(path[path.utf8.index(after: slash)...])
    return name.isEmpty ? "cni-plugins" : name
}()
if invokedAs == "dhcp" { DhcpPlugin.runDaemonIfAsked() }
if invokedAs == "cni-plugins", CommandLine.arguments.dropFirst().first == "install" {
    exit(InstallCommand.run(Array(CommandLine.arguments.dropFirst(2)), plugins: pluginNames()))
}
// The plugin names, one a line: what install.sh links and the tests check against Package.swift.
if invokedAs == "cni-plugins", CommandLine.arguments.dropFirst().first == "--list" {
    ProcessEnvironment().writeStdout(pluginNames().map { $0 + "\n" }.joined())
    exit(0)
}
// The DaemonSet's long-running container: sleep until stopped. As a container's PID 1 a
// default SIGTERM would be ignored, so it is handled explicitly.
if invokedAs == "cni-plugins", CommandLine.arguments.dropFirst().first == "pause" {
    _ = signal(SIGTERM) { _ in _exit(0) }
    _ = signal(SIGINT) { _ in _exit(0) }
    while true { _ = pause() }
}
if let plugin = linkedPlugin(invokedAs) {
    PluginMain.run(plugin)
}
let usage = """
    cni-plugins: swift-cni v\(swiftCNIVersion), a multi-call binary of CNI plugins.
    Run it through a link named after a plugin: \(pluginNames().joined(separator: ", ")).
    `cni-plugins install --help` installs it (and a conflist) onto a node.

    """
ProcessEnvironment().writeStderr(usage)
exit(invokedAs == "cni-plugins" ? 0 : 1)
