import CNISkeleton
import Glibc
import Netlink
import PluginSupport

/// The `sbr` plugin: source-based routing for the container interface. Each of its addresses
/// gets a policy rule `from <address> lookup <table>` and a table of its own (from 100 upward)
/// holding the interface's routes and a default route, so replies leave through the
/// interface they belong to. With `table`, only the rules are added. Chained: prevResult
/// passes through.
public struct SbrPlugin: CNIPlugin {
    /// The plugin instance the executables run.
    public static let plugin = SbrPlugin()

    public let type = "sbr"

    public init() {}

    static let firstTable: UInt32 = 100

    public func add(_ request: CNIRequest) throws -> CNIResult {
        let conf = try SbrConfig(request)
        guard var result = try request.config.prevResult() else {
            throw CNIError(.invalidNetworkConfig, "This plugin must be called as chained plugin")
        }
        result.cniVersion = request.config.cniVersion
        let lock = try NetnsLock(request.netns)
        defer { lock.release() }
        let container = try ContainerNetwork.routeSocket(netns: request.netns)
        guard let link = try? container.link(named: request.ifname) else {
            throw CNIError(.internalError, "failed to find interface \"\(request.ifname)\" in \(request.netns)")
        }
        let addresses = Self.addresses(of: request.ifname, in: result)
        var used = try Self.usedTables(container)
        // Every rule and route this ADD makes is undone if a later step fails (the reference
        // leaves them, and DEL, which matches rules by the link's addresses, may miss them).
        let rollback = Rollback()
        defer { rollback.unwindIfNeeded(log: { ProcessEnvironment().writeStderr("sbr: \($0)\n") }) }
        var moved: [RouteSpec] = []
        for ip in addresses {
            let table: UInt32
            if let fixed = conf.table {
                table = fixed
            } else {
                var next = Self.firstTable
                while used.contains(next) { next += 1 }
                table = next
                used.insert(next)
            }
            let rule = RuleSpec(
                family: ip.address.address.isV4 ? .inet : .inet6, source: ip.address.address.hostPrefix, table: table)
            try container.addRule(rule)
            rollback.add("rule from \(ip.address.address)") { try? container.deleteRule(rule) }
            if conf.table == nil { moved += try routeTable(table, for: ip, conf, link: link, container, rollback) }
        }
        if conf.table == nil { try cleanMainTable(moved, conf, container, rollback) }
        rollback.commit()
        return result
    }

    /// Fills `table` for one address: a default route through the gateway, and copies of the
    /// interface's routes that belong to the address. Returns the main-table routes copied.
    private func routeTable(
        _ table: UInt32, for ip: CNIResult.IPConfig, _ conf: SbrConfig, link: Link, _ container: RouteNetlink,
        _ rollback: Rollback
    ) throws -> [RouteSpec] {
        let address = ip.address.address
        let family: AddressFamily = address.isV4 ? .inet : .inet6
        let subnet = IPPrefix(address: ip.address.network, prefixLength: ip.address.prefixLength)
        let gateway = conf.gateways.first { $0.isV4 == address.isV4 } ?? ip.gateway
        if let gateway {
            let route = RouteSpec(
                destination: RouteSpec.defaultDestination(v4: address.isV4), gateway: gateway, outputIndex: link.index,
                table: table)
            try container.replaceRoute(route)
            rollback.add("default route in table \(table)") { try? container.deleteRoute(route) }
        }
        var copied: [RouteSpec] = []
        for route in try container.routes(family: family)
        where route.table == mainRoutingTable && route.outputIndex == link.index && route.type == .unicast {
            let source = route.preferredSource
            let via = route.gateway
            let viaSubnet = via.map { subnet.contains($0) } ?? false
            guard source == address || viaSubnet || (source == nil && via == nil) else { continue }
            var copy = route
            copy.table = table
            copy.priority = nil
            try container.replaceRoute(copy)
            rollback.add("route in table \(table)") { try? container.deleteRoute(copy) }
            copied.append(route)
        }
        return copied
    }

    /// Without `addSourceHints` the copied routes leave the main table; with it, the
    /// interface's link-scope subnet routes stay there (with their source address) and only
    /// the others go.
    private func cleanMainTable(
        _ routes: [RouteSpec], _ conf: SbrConfig, _ container: RouteNetlink, _ rollback: Rollback
    )
        throws
    {
        for route in routes where !(conf.addSourceHints && route.scope == .link) {
            do { try container.deleteRoute(route) } catch { if error.errno != .noSuchFileOrDirectory { throw error } }
            rollback.add("main-table route") { try? container.replaceRoute(route) }
        }
    }

    /// prevResult's addresses on `ifname` (those naming no interface count as its).
    static func addresses(of ifname: String, in result: CNIResult) -> [CNIResult.IPConfig] {
        result.ips.filter { ip in
            guard let index = ip.interface else { return true }
            return index < result.interfaces.count && result.interfaces[index].name == ifname
        }
    }

    /// Tables any rule or route already uses, so a new one is free.
    static func usedTables(_ route: RouteNetlink) throws -> Set<UInt32> {
        var used: Set<UInt32> = []
        for family in [AddressFamily.inet, .inet6] {
            for rule in try route.rules(family: family) { used.insert(rule.table) }
            for entry in try route.routes(family: family) { used.insert(entry.table) }
        }
        return used
    }

    /// Deletes the rules whose source is one of the interface's addresses (only those for
    /// `table` when it is set). A missing netns or interface is success; routes go with the
    /// link.
    public func del(_ request: CNIRequest) throws {
        let table = (try? SbrConfig(request))?.table
        guard !request.netns.isEmpty else { return }
        let lock = try? NetnsLock(request.netns)
        defer { lock?.release() }
        let container: RouteNetlink
        do { container = try ContainerNetwork.routeSocket(netns: request.netns) } catch
            where
            ContainerNetwork.isMissingNamespace(error)
        {
            return
        }
        guard let link = try? container.link(named: request.ifname) else { return }
        for family in [AddressFamily.inet, .inet6] {
            let own = Set(
                try container.addresses(family: family, index: UInt32(bitPattern: link.index)).compactMap(\.address))
            for rule in try container.rules(family: family) {
                guard let source = rule.source?.address, own.contains(source), table == nil || rule.table == table
                else {
                    continue
                }
                do { try container.deleteRule(rule) } catch { if error.errno != .noSuchFileOrDirectory { throw error } }
            }
        }
    }

    /// As the reference: nothing to verify beyond the config.
    public func check(_ request: CNIRequest) throws {
        _ = try SbrConfig(request)
    }
}

/// An exclusive `flock` on the netns path itself, as the reference takes around every
/// operation, so two sbr invocations on one netns never pick the same table.
struct NetnsLock {
    let fd: Int32

    init(_ path: String) throws(CNIError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { throw CNIError(.internalError, "failed to open netns \(path) for locking") }
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            close(fd)
            throw CNIError(.internalError, "failed to lock netns \(path)")
        }
        self.fd = fd
    }

    func release() { close(fd) }
}

struct SbrConfig {
    var table: UInt32?
    var gateways: [IPAddress] = []
    var addSourceHints = false

    init(_ request: CNIRequest) throws(CNIError) {
        let f = request.config.fields
        do {
            if let value = try f.int("table") {
                guard let table = UInt32(exactly: value), table > 0 else {
                    throw CNIError.invalidConfig("invalid table \(value)", details: "key: table")
                }
                self.table = table
            }
            for text in try f.stringArray("gateways") ?? [] {
                guard let gateway = IPAddress(text) else {
                    throw CNIError.invalidConfig("invalid gateway \"\(text)\"", details: "key: gateways")
                }
                gateways.append(gateway)
            }
            addSourceHints = try f.bool("addSourceHints") ?? false
        } catch {
            throw CNIError.decodingConfig(error)
        }
        if gateways.filter(\.isV4).count > 1 || gateways.filter({ !$0.isV4 }).count > 1 {
            throw .invalidConfig("at most one IPv4 and one IPv6 gateway", details: "key: gateways")
        }
    }
}
