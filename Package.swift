// swift-tools-version: 6.1
// The layout (ARCHITECTURE.md): pure libraries at the bottom, one library per plugin,
// one thin executable per plugin named after its CNI type, and the multi-call `cni-plugins`.
import PackageDescription

/// Every plugin: CNI type name (also the executable's name), its library target (under
/// Sources/Plugins), and the libraries it imports besides CNISkeleton. This list is the one
/// place a plugin is declared; the multi-call binary's registry is checked against it by a test.
let plugins: [(type: String, target: String, imports: [String])] = [
    ("bridge", "BridgePlugin", ["Netlink", "PluginSupport"]),
    ("ptp", "PtpPlugin", ["Netlink", "PluginSupport"]),
    ("macvlan", "MacvlanPlugin", ["Netlink", "PluginSupport"]),
    ("ipvlan", "IpvlanPlugin", ["Netlink", "PluginSupport"]),
    ("host-local", "HostLocalPlugin", ["IPAM"]),
    ("static", "StaticPlugin", ["IPAM"]),
    ("dhcp", "DhcpPlugin", ["CNISystem", "Netlink"]),
    ("portmap", "PortmapPlugin", ["Netfilter", "Netlink", "PluginSupport"]),
    ("bandwidth", "BandwidthPlugin", ["Netlink", "PluginSupport"]),
    ("firewall", "FirewallPlugin", ["Netfilter", "Netlink", "PluginSupport"]),
    ("tuning", "TuningPlugin", ["CNISystem", "Netlink", "PluginSupport"]),
    ("loopback", "LoopbackPlugin", ["Netlink", "PluginSupport"]),
    ("host-device", "HostDevicePlugin", ["CNISystem", "Netlink", "PluginSupport"]),
    ("tap", "TapPlugin", ["Netlink", "PluginSupport"]),
    ("sbr", "SbrPlugin", ["Netlink", "PluginSupport"]),
    ("vlan", "VlanPlugin", ["Netlink", "PluginSupport"]),
    ("dummy", "DummyPlugin", ["Netlink", "PluginSupport"]),
    ("vrf", "VrfPlugin", ["CNISystem", "Netlink", "PluginSupport"]),
]

/// What the fuzz targets read with: every plugin library and the layers below.
let fuzzDependencies: [Target.Dependency] =
    plugins.map { .target(name: $0.target) } + ["CNISkeleton", "IPAM", "Netlink", "Netfilter"]

var targets: [Target] = [
    // Errno, whole-file I/O, atomic replace, state directories: the one system layer.
    .target(name: "CNISystem"),
    // IPAddress, IPPrefix, MACAddress: the typed values every layer above speaks.
    .target(name: "NetAddress"),
    .target(name: "CNISkeleton", dependencies: ["CNISystem", "NetAddress"]),
    .target(name: "CSystemShim"),
    .target(name: "Netlink", dependencies: ["CNISystem", "CSystemShim", "NetAddress"]),
    .systemLibrary(name: "CLibmnl", path: "Sources/CLibmnl"),
    .systemLibrary(name: "CLibnftnl", path: "Sources/CLibnftnl"),
    // The libmnl functions libnftnl needs, so no shared library is linked (no libmnl.a exists in Debian).
    .target(name: "CMnl"),
    .target(
        name: "Netfilter",
        dependencies: ["CNISystem", "Netlink", "NetAddress", "CLibnftnl", "CMnl"],
        // libnftnl from its static archive, so the binaries are fully static.
        linkerSettings: [.unsafeFlags(["-Xlinker", "-l:libnftnl.a"])]
    ),
    .target(name: "IPAM", dependencies: ["CNISkeleton", "CNISystem"]),
    .target(name: "PluginSupport", dependencies: ["CNISkeleton", "CNISystem", "Netlink", "Netfilter"]),
    // `cni-plugins install`, what a cluster's DaemonSet runs: small, no Foundation.
    .target(name: "Installer", dependencies: ["CNISkeleton", "CNISystem"]),
    .executableTarget(
        name: "cni-plugins",
        dependencies: plugins.map { .target(name: $0.target) } + ["CNISkeleton", "CNISystem", "Installer"],
        path: "Sources/cni-plugins"
    ),
    // `cni`, the operator's tool: its own executable, so nothing of it reaches the plugins.
    .target(
        name: "CNITool", dependencies: ["CNISkeleton", "CNISystem", "Netlink", "Netfilter", "PluginSupport", "IPAM"]),
    .executableTarget(name: "cni", dependencies: ["CNITool", "CNISkeleton", "CNISystem"], path: "Sources/cni"),
    .target(name: "TestSupport", dependencies: [], path: "Tests/TestSupport"),
    .testTarget(name: "NetAddressTests", dependencies: ["NetAddress"]),
    .testTarget(name: "CNISkeletonTests", dependencies: ["CNISkeleton"]),
    .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "NetAddress"]),
    .testTarget(name: "IPAMTests", dependencies: ["IPAM", "CNISkeleton"]),
    .testTarget(name: "CNIToolTests", dependencies: ["CNITool", "CNISkeleton"]),
    .testTarget(
        name: "PluginTests",
        dependencies: [
            "BandwidthPlugin", "BridgePlugin", "DhcpPlugin", "FirewallPlugin", "PortmapPlugin", "PluginSupport",
            "PtpPlugin", "MacvlanPlugin", "IpvlanPlugin", "VlanPlugin", "DummyPlugin", "TuningPlugin", "VrfPlugin",
            "Netfilter", "Netlink",
            "CNISkeleton", "CLibmnl", "CMnl", "CLibnftnl",
        ]),
    .testTarget(
        name: "IntegrationTests", dependencies: ["TestSupport", "Netlink", "NetAddress"], exclude: ["Fixtures"]),
    .testTarget(name: "FuzzTests", dependencies: fuzzDependencies, exclude: ["Corpus"]),
    .testTarget(name: "InteropTests", dependencies: ["TestSupport"], exclude: ["driver", "cri"]),
]

// libFuzzer's executable (Scripts/fuzz.sh), only when asked for: it has no main of its own and
// links only with `-sanitize=fuzzer`. Its harness is FuzzTests' own file, linked in.
if Context.environment["SWIFT_CNI_FUZZ"] != nil {
    targets.append(
        .executableTarget(
            name: "cni-fuzz", dependencies: fuzzDependencies, path: "Tests/Fuzz/cni-fuzz",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]))
}

for plugin in plugins {
    targets.append(
        .target(
            name: plugin.target,
            dependencies: ["CNISkeleton"] + plugin.imports.map { .target(name: $0) },
            path: "Sources/Plugins/\(plugin.target)"
        )
    )
    targets.append(
        .executableTarget(
            name: plugin.type,
            dependencies: [.target(name: plugin.target), "CNISkeleton"],
            path: "Sources/Executables/\(plugin.type)"
        )
    )
}

let package = Package(
    name: "swift-cni",
    products: [.executable(name: "cni-plugins", targets: ["cni-plugins"]), .executable(name: "cni", targets: ["cni"])]
        + plugins.map { .executable(name: $0.type, targets: [$0.type]) }
        + [
            .library(name: "CNISkeleton", targets: ["CNISkeleton"]),
            .library(name: "Netlink", targets: ["Netlink"]),
        ],
    targets: targets,
    swiftLanguageModes: [.v6]
)
