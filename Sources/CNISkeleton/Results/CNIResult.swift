/// The result of an ADD in the 1.1.0 model. Every plugin builds this and the skeleton converts
/// it once, when printing, to the `cniVersion` the runtime asked for.
public struct CNIResult: Sendable, Equatable {
    /// The version this result was parsed from or is meant for.
    public var cniVersion: String
    public var interfaces: [Interface]
    public var ips: [IPConfig]
    public var routes: [Route]
    public var dns: DNS

    public init(
        cniVersion: String = SpecVersion.current,
        interfaces: [Interface] = [],
        ips: [IPConfig] = [],
        routes: [Route] = [],
        dns: DNS = DNS()
    ) {
        self.cniVersion = cniVersion
        self.interfaces = interfaces
        self.ips = ips
        self.routes = routes
        self.dns = dns
    }

    /// An interface the attachment created or uses.
    public struct Interface: Sendable, Equatable {
        public var name: String
        public var mac: String
        /// 1.1.0; 0 means unset.
        public var mtu: Int
        /// The netns path for container-side interfaces; empty on the host.
        public var sandbox: String
        public var socketPath: String
        public var pciID: String

        public init(
            name: String, mac: String = "", mtu: Int = 0, sandbox: String = "", socketPath: String = "",
            pciID: String = ""
        ) {
            self.name = name
            self.mac = mac
            self.mtu = mtu
            self.sandbox = sandbox
            self.socketPath = socketPath
            self.pciID = pciID
        }
    }

    /// An address assigned by the attachment.
    public struct IPConfig: Sendable, Equatable {
        /// Index into `interfaces`; nil in IPAM results.
        public var interface: Int?
        public var address: IPPrefix
        public var gateway: IPAddress?

        public init(interface: Int? = nil, address: IPPrefix, gateway: IPAddress? = nil) {
            self.interface = interface
            self.address = address
            self.gateway = gateway
        }
    }

    /// A route the attachment created (Go `types.Route`).
    public struct Route: Sendable, Equatable {
        public var dst: IPPrefix
        public var gw: IPAddress?
        /// 1.1.0 attributes; 0 means unset for mtu, advmss and priority.
        public var mtu: Int
        public var advmss: Int
        public var priority: Int
        /// 1.1.0; Go pointers, so an explicit 0 is kept.
        public var table: Int?
        public var scope: Int?

        public init(
            dst: IPPrefix, gw: IPAddress? = nil, mtu: Int = 0, advmss: Int = 0, priority: Int = 0, table: Int? = nil,
            scope: Int? = nil
        ) {
            self.dst = dst
            self.gw = gw
            self.mtu = mtu
            self.advmss = advmss
            self.priority = priority
            self.table = table
            self.scope = scope
        }
    }

    /// DNS settings (Go `types.DNS`).
    public struct DNS: Sendable, Equatable {
        public var nameservers: [String]
        public var domain: String
        public var search: [String]
        public var options: [String]

        public init(nameservers: [String] = [], domain: String = "", search: [String] = [], options: [String] = []) {
            self.nameservers = nameservers
            self.domain = domain
            self.search = search
            self.options = options
        }

        public var isEmpty: Bool { nameservers.isEmpty && domain.isEmpty && search.isEmpty && options.isEmpty }
    }
}
