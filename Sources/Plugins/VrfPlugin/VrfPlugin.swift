import CNISkeleton
import CNISystem
import Netlink
import PluginSupport

/// The `vrf` plugin: puts the container interface into a VRF (created when missing, with the
/// given `table` or the first one no other VRF uses), re-adding the IPv6 addresses that
/// enslaving removes and copying the interface's routes into the VRF's table. DEL removes the
/// VRF once no interface is left in it. Chained: prevResult passes through. On a kernel
/// without VRF support, ADD fails with an error saying so.
public struct VrfPlugin: CNIPlugin {
    /// The plugin instance the executables run.
    public static let plugin = VrfPlugin()

    public let type = "vrf"
    /// The reference starts at 0.3.1.
    public let supportedVersions = ["0.3.1", "0.4.0", "1.0.0", "1.1.0"]

    public let kernel: KernelContext

    /// `kernel` is `.live` outside tests.
    public init(kernel: KernelContext = .live) { self.kernel = kernel }

    struct Config {
        var name: String
        var table: UInt32?

        init(_ request: CNIRequest) throws(CNIError) {
            let f = request.config.fields
            do {
                name = try f.string("vrfname") ?? ""
                if let value = try f.int("table") {
                    guard let table = UInt32(exactly: value), table > 0 else {
                        throw CNIError.invalidConfig("invalid table \(value)", details: "key: table")
                    }
                    self.table = table
                }
            } catch {
                throw CNIError.decodingConfig(error)
            }
            guard !name.isEmpty else {
                throw .invalidConfig("configuration is expected to have a valid vrf name", details: "key: vrfname")
            }
        }
    }

    /// The routing table of a VRF link (`IFLA_INFO_DATA` / `IFLA_VRF_TABLE`).
    static func table(of link: Link) -> UInt32? {
        guard link.kind == "vrf", let info = link.attributes.first(where: { $0.type == 18 }),
            let data = (try? info.nested())?.first(where: { $0.type == 2 })
        else { return nil }
        return (try? data.nested())?.first { $0.type == 1 }?.u32
    }

    public func add(_ request: CNIRequest) throws -> CNIResult {
        let conf = try Config(request)
        guard var result = try request.config.prevResult() else {
            throw CNIError(.invalidNetworkConfig, "missing prevResult from earlier plugin")
        }
        result.cniVersion = request.config.cniVersion
        let rollback = Rollback()
        defer { rollback.unwindIfNeeded(log: { ProcessEnvironment().writeStderr("vrf: \($0)\n") }) }
        let container = try kernel.containerRoute(request.netns)
        guard let link = try? container.link(named: request.ifname) else {
            throw CNIError(.internalError, "failed to find interface \"\(request.ifname)\"")
        }
        if link.masterIndex != nil {
            throw CNIError(.internalError, "interface \(request.ifname) has already a master set")
        }
        let (vrf, table) = try findOrCreate(conf, container, rollback)
        let ipv6 = try container.addresses(family: .inet6, index: UInt32(bitPattern: link.index)).filter {
            $0.scope == 0
        }
        let routes = try Self.mainRoutes(of: link.index, container)
        try container.setLink(index: link.index, .master(vrf.index))
        rollback.add("enslaving \(request.ifname)") {
            try Self.release(link.index, restoring: ipv6, routes, container)
        }
        try readdIPv6(ipv6, index: link.index, table: table, container)
        try copy(routes, into: table, container)
        rollback.commit()
        return result
    }

    /// Takes the interface out of its VRF. Moving it cycles the link, which drops its routes
    /// (and IPv6 addresses): what it had before the ADD is put back.
    static func release(
        _ index: Int32, restoring ipv6: [InterfaceAddress], _ routes: [RouteSpec], _ container: RouteNetlink
    ) throws {
        try container.setLink(index: index, .master(nil))
        for address in ipv6 {
            guard let prefix = address.prefix else { continue }
            try? container.addAddress(AddressSpec(index: index, address: prefix, flags: [.noDAD]))
        }
        for route in routes { try? container.replaceRoute(route) }
    }

    /// The interface's routes in the main table that the kernel does not make itself (scope
    /// universe: not its connected or local routes), read before enslaving, because enslaving
    /// cycles the link and the kernel drops them.
    static func mainRoutes(of index: Int32, _ container: RouteNetlink) throws -> [RouteSpec] {
        var out: [RouteSpec] = []
        for family in [AddressFamily.inet, .inet6] {
            out += try container.routes(family: family).filter {
                $0.table == mainRoutingTable && $0.outputIndex == index && $0.type == .unicast
                    && $0.scope == .universe
            }
        }
        return out
    }

    /// Deletes a VRF that no interface uses any more.
    static func deleteIfEmpty(_ vrf: Link, _ container: RouteNetlink) throws {
        if try !container.links().contains(where: { $0.masterIndex == vrf.index }) {
            try container.deleteLink(index: vrf.index)
        }
    }

    /// The VRF named in the config, or a new one with the configured table or the first free.
    /// Registers the new VRF's removal on `rollback` as soon as it exists.
    private func findOrCreate(_ conf: Config, _ container: RouteNetlink, _ rollback: Rollback) throws -> (Link, UInt32)
    {
        let vrfs = try container.links().filter { $0.kind == "vrf" }
        if let existing = vrfs.first(where: { $0.name == conf.name }) {
            let table = Self.table(of: existing) ?? 0
            if let wanted = conf.table, wanted != table {
                throw CNIError(.internalError, "VRF \(conf.name) already exist with different routing table \(table)")
            }
            return (existing, table)
        }
        let used = Set(vrfs.compactMap(Self.table(of:)))
        var table = conf.table ?? 1
        while conf.table == nil && used.contains(table) { table += 1 }
        switch Result(catching: { () throws(NetlinkError) in
            try container.addLink(LinkSpec(name: conf.name, kind: .vrf(table: table)))
        }) {
        case .success: break
        case .failure(let error): throw error.kind == .unsupported ? CNIError(.internalError, error.description) : error
        }
        rollback.add("VRF \(conf.name)") {
            guard let made = try? container.link(named: conf.name), made.kind == "vrf" else { return }
            try Self.deleteIfEmpty(made, container)
        }
        let vrf = try container.link(named: conf.name)
        try container.setLink(index: vrf.index, .up(true))
        return (vrf, table)
    }

    /// Enslaving drops the interface's global IPv6 addresses: they are added again, and each
    /// counts as back once its local route shows in the VRF's table (waiting up to ~2.5 s).
    private func readdIPv6(_ addresses: [InterfaceAddress], index: Int32, table: UInt32, _ container: RouteNetlink)
        throws
    {
        for address in addresses {
            guard let prefix = address.prefix else { continue }
            do {
                try container.addAddress(AddressSpec(index: index, address: prefix, flags: [.noDAD]))
            } catch {
                if error.errno != .fileExists { throw error }
            }
            var delay: UInt32 = 10_000
            while delay < 2_600_000 {
                let routes = try container.routes(family: .inet6)
                if routes.contains(where: {
                    $0.table == table && $0.type == .local && $0.destination.address == prefix.address
                }) {
                    break
                }
                Sleep.microseconds(delay)
                delay *= 2
            }
        }
    }

    /// The routes the interface had, now in the VRF's table (`ip route replace ... table T`).
    private func copy(_ routes: [RouteSpec], into table: UInt32, _ container: RouteNetlink) throws {
        for route in routes {
            var copy = route
            copy.table = table
            try container.replaceRoute(copy)
        }
    }

    /// Releases the interface from the VRF, then deletes the VRF if nothing is left in it. A
    /// missing netns, interface or VRF is success.
    public func del(_ request: CNIRequest) throws {
        guard let conf = try? Config(request), !request.netns.isEmpty else { return }
        let container: RouteNetlink
        do { container = try kernel.containerRoute(request.netns) } catch
            where
            ContainerNetwork.isMissingNamespace(error)
        {
            return
        }
        guard let vrf = try? container.link(named: conf.name), vrf.kind == "vrf" else { return }
        if let link = try? container.link(named: request.ifname), link.masterIndex == vrf.index {
            try container.setLink(index: link.index, .master(nil))
        }
        try Self.deleteIfEmpty(vrf, container)
    }

    public func check(_ request: CNIRequest) throws {
        let conf = try Config(request)
        guard try request.config.prevResult() != nil else {
            throw CNIError(.invalidNetworkConfig, "missing prevResult from earlier plugin")
        }
        let container = try kernel.containerRoute(request.netns)
        guard let vrf = try? container.link(named: conf.name), vrf.kind == "vrf",
            let link = try? container.link(named: request.ifname), link.masterIndex == vrf.index
        else {
            throw CNIError(.internalError, "interface \(request.ifname) is not in VRF \(conf.name)")
        }
    }
}
