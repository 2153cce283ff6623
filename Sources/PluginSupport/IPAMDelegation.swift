import CNISkeleton

/// IPAM by exec, with the rollback rule of the spec: an ADD that fails after a successful
/// IPAM ADD runs IPAM DEL before reporting the failure.
public enum IPAMDelegation {
    /// Runs IPAM ADD and registers IPAM DEL on `rollback`. Fails when no IP comes back.
    ///
    /// An IPAM ADD that failed owns nothing, so nothing is undone for it: a DEL there would
    /// release the reservation of a live attachment whose ADD was repeated (IPAM refuses the
    /// duplicate, and (containerID, ifname) is all that DEL can name).
    public static func add(
        _ request: CNIRequest, type: String, rollback: Rollback, ipam: IPAMRunner = .exec
    ) throws -> CNIResult {
        let result = try ipam.add(type, request)
        rollback.add("IPAM reservation") { try ipam.run(type, .del, request) }
        guard !result.ips.isEmpty else { throw CNIError(.internalError, "IPAM plugin returned missing IP config") }
        return result
    }

    /// IPAM ADD whose addresses, routes and DNS go into `result`, the addresses on its first
    /// interface (the single container interface these plugins create).
    public static func add(
        _ request: CNIRequest, type: String, rollback: Rollback, into result: inout CNIResult,
        ipam runner: IPAMRunner = .exec
    ) throws {
        let ipam = try add(request, type: type, rollback: rollback, ipam: runner)
        result.ips = ipam.ips.map {
            var ip = $0
            ip.interface = 0
            return ip
        }
        result.routes = ipam.routes
        result.dns = ipam.dns
    }

    /// IPAM DEL when the config names an IPAM plugin; the type is read leniently, as DEL must
    /// get through a config that no longer validates.
    public static func del(_ request: CNIRequest, ipam: IPAMRunner = .exec) throws {
        let type = request.config.lenientIPAMType
        if !type.isEmpty { try ipam.run(type, .del, request) }
    }

    /// Passes `command` (GC, STATUS) on to the IPAM plugin, when the config names one.
    public static func pass(_ command: CNICommand, _ request: CNIRequest, ipam: IPAMRunner = .exec) throws {
        let type = try request.config.ipamType()
        if !type.isEmpty { try ipam.run(type, command, request) }
    }
}
