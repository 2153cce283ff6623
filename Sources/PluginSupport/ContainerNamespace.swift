import CNISkeleton
import CNISystem
import Netlink

/// The `/proc/sys` values of one network namespace, read and written by key
/// (`net/ipv4/conf/eth0/arp_notify` or the dotted form).
public protocol SysctlValues {
    /// The current value, without its trailing newline.
    func read(_ key: String) throws -> String
    /// Writes `value` in one write, as the kernel expects.
    func write(_ key: String, _ value: String) throws
}

extension SysctlValues {
    /// Writes only when the value differs; returns whether it wrote.
    @discardableResult
    public func ensure(_ key: String, _ value: String) throws -> Bool {
        if (try? read(key)) == value { return false }
        try write(key, value)
        return true
    }
}

/// Where a flow's sysctls live: the host's namespace or a container's. `access` runs its body
/// once for any number of values, because entering a container's netns costs a thread.
public protocol SysctlScope: Sendable {
    func access<T>(_ body: (any SysctlValues) throws -> T) throws -> T
}

/// The values of the namespace the calling thread is in, through `/proc/sys`.
struct ProcSysctls: SysctlValues {
    let directories: SysctlDirectories
    func read(_ key: String) throws -> String { try Sysctl.read(key, in: directories) }
    func write(_ key: String, _ value: String) throws { try Sysctl.write(key, value, in: directories) }
}

/// The host's (node's) sysctls: the plugin runs in the host netns.
public struct HostSysctls: SysctlScope {
    /// The host's directories, shared by every access: plugins use the host scope only from
    /// threads that never leave the host's namespace, one at a time.
    nonisolated(unsafe) private static let directories = SysctlDirectories()

    public init() {}
    public func access<T>(_ body: (any SysctlValues) throws -> T) throws -> T {
        try body(ProcSysctls(directories: HostSysctls.directories))
    }
}

/// A container's sysctls: `/proc/sys/net` answers for the netns of the thread that opens
/// the file, so the body runs on a thread that entered it, unless the family directories its
/// keys are under were opened in the namespace beforehand.
struct EnteredSysctls: SysctlScope {
    let namespace: NetworkNamespace
    /// Made by the thread that made the route socket (see `ContainerNeeds`). Plugins run
    /// their flows on one thread, the only one that uses it.
    nonisolated(unsafe) let setup: ContainerSetup

    func access<T>(_ body: (any SysctlValues) throws -> T) throws -> T {
        if let opened = try setup.resolve().1 {
            return try body(PreopenedSysctls(directories: opened, namespace: namespace))
        }
        return try namespace.withEntered { try body(ProcSysctls(directories: SysctlDirectories())) }
    }
}

/// A container's values through directories opened inside its namespace, from the calling
/// thread; a key outside them still goes through a thread that enters the namespace.
private struct PreopenedSysctls: SysctlValues {
    let directories: SysctlDirectories
    let namespace: NetworkNamespace

    func read(_ key: String) throws -> String {
        do {
            guard directories.covers(Sysctl.path(key)) else { throw Entered.needed }
            return try Sysctl.read(key, in: directories)
        } catch let error where Entered.applies(to: error) {
            return try namespace.withEntered { try Sysctl.read(key) }
        }
    }

    func write(_ key: String, _ value: String) throws {
        do {
            guard directories.covers(Sysctl.path(key)) else { throw Entered.needed }
            try Sysctl.write(key, value, in: directories)
        } catch let error where Entered.applies(to: error) {
            try namespace.withEntered { try Sysctl.write(key, value) }
        }
    }

    /// When a key goes through a thread that enters the namespace: it is outside the opened
    /// directories, or the private procfs they came from was refused (see `ProcSys`), where a
    /// path from inside the namespace may not be.
    private enum Entered: Error {
        case needed

        static func applies(to error: any Error) -> Bool {
            if error is Entered { return true }
            guard let error = error as? SystemError, error.operation == "open" else { return false }
            return ProcSys.isRefusal(error.errno.rawValue)
        }
    }
}

/// What a flow does in a container's namespace besides using its route socket, so that
/// opening the namespace prepares it on the same thread: every thread that enters the
/// namespace costs 0.05-2 ms (its creation, then waiting for a CPU on a busy node).
public struct ContainerNeeds: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Keys under `/proc/sys/net/ipv6` (the IPv6 and DAD settings of the interface).
    public static let ipv6Sysctls = ContainerNeeds(rawValue: 1)
}

/// A container's network namespace as the flows use it: a route socket inside it, the nsfs
/// descriptor that creates or moves links into it, and its sysctls. Tests build one over a
/// fake kernel, so a flow's requests into the container are recorded like the host's.
public struct ContainerNamespace {
    /// The netns path the runtime gave (`CNI_NETNS`).
    public let path: String
    public let route: RouteNetlink
    /// For `IFLA_NET_NS_FD`: open for as long as this value lives.
    public let descriptor: Int32
    public let sysctl: any SysctlScope
    /// What keeps `descriptor` open (the live `NetworkNamespace`).
    private let owner: AnyObject?
    /// The thread making `route`'s socket, for a live namespace.
    private let setup: ContainerSetup?

    public init(path: String, route: RouteNetlink, descriptor: Int32, sysctl: any SysctlScope, owner: AnyObject? = nil)
    {
        self.path = path
        self.route = route
        self.descriptor = descriptor
        self.sysctl = sysctl
        self.owner = owner
        self.setup = nil
    }

    private init(_ namespace: NetworkNamespace, setup: ContainerSetup) {
        path = namespace.path
        route = RouteNetlink(connection: NetlinkConnection(transport: DeferredTransport(setup)))
        descriptor = namespace.descriptor
        sysctl = EnteredSysctls(namespace: namespace, setup: setup)
        owner = namespace
        self.setup = setup
    }

    /// Waits until the container's socket is made; throws what making it threw. Requests
    /// wait by themselves: this is for a caller that would otherwise take a failed request
    /// for an answer (a link that is not there).
    public func ready() throws { _ = try setup?.resolve() }

    /// Opens the netns at `path`: the socket (and what `needs` asks for) is created on a
    /// thread that entered it, as ARCHITECTURE.md describes, and everything else is done from
    /// here. That thread runs while the caller goes on; the first request through `route` (or
    /// sysctl access) waits for it, and fails as it failed.
    ///
    /// Throws `NamespaceError.notExist` when the path is gone (DEL treats that as done).
    public static func live(path: String, needs: ContainerNeeds = []) throws -> ContainerNamespace {
        try ContainerNamespace(entering: NetworkNamespace(path: path), needs: needs)
    }

    /// The namespace a plugin already opened (tap and host-device also work inside it).
    public init(entering namespace: NetworkNamespace, needs: ContainerNeeds = []) throws {
        self.init(namespace, setup: try ContainerSetup(namespace, needs: needs))
    }
}
