import Glibc
import CNISkeleton

/// Accepts plugin connections, one thread each, so a slow DHCP server never blocks other pods.
struct DaemonServer: Sendable {
    let registry: LeaseRegistry
    let hostPrefix: String
    let broadcast: Bool
    let timing: DHCPTiming

    func serve(_ listener: Int32) -> Never {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno != EINTR && errno != ECONNABORTED { usleep(10_000) }
                continue
            }
            let started = Threads.detach { [self] in
                let request = DaemonProtocol.readAll(fd)
                _ = DaemonProtocol.writeAll(fd, Array(JSONWriter.compact(respond(to: request)).utf8))
                close(fd)
            }
            if !started { close(fd) }
        }
    }

    func respond(to bytes: [UInt8]) -> JSONValue {
        do {
            return try handle(bytes)
        } catch let error as CNIError {
            return JSONValue.object([
                (
                    "error",
                    JSONValue.object([("code", JSONValue.int(error.code.rawValue)), ("msg", .string(error.msg))])
                )
            ])
        } catch {
            return JSONValue.object([
                ("error", JSONValue.object([("code", JSONValue.int(999)), ("msg", .string("\(error)"))]))
            ])
        }
    }

    private func handle(_ bytes: [UInt8]) throws -> JSONValue {
        guard let object = (try? JSONParser.parse(bytes))?.objectValue, let command = object["command"]?.stringValue,
            let configObject = object["config"]?.objectValue
        else {
            throw CNIError(.decodingFailure, "malformed request to the DHCP daemon")
        }
        let config = try NetworkConfig(object: configObject)
        let containerID = object["containerID"]?.stringValue ?? "", ifname = object["ifname"]?.stringValue ?? ""
        let clientID = DHCPExchange.clientID(containerID: containerID, network: config.name, ifname: ifname)
        switch command {
        case "ADD":
            let conf = try DhcpConfig(config)
            let args = CNIArgs(object["args"]?.stringValue ?? "")
            let exchange = DHCPExchange(
                netns: hostPrefix + (object["netns"]?.stringValue ?? ""), ifname: ifname, clientID: clientID,
                requested: conf.requested, provided: conf.providedOptions(args: args), timing: timing,
                broadcast: broadcast)
            let lease: DHCPLease
            do {
                lease = try registry.allocate(exchange, network: config.name, containerID: containerID, ifname: ifname)
            } catch {
                throw CNIError(.internalError, "error getting IP from DHCP on \(ifname): \(error.description)")
            }
            return JSONValue.object([("result", try Self.result(lease, priority: conf.priority).json(version: "1.0.0"))]
            )
        case "DEL":
            registry.release(clientID)
        case "CHECK":
            guard registry.record(clientID) != nil else {
                throw CNIError(.internalError, "no DHCP lease held for \(clientID)")
            }
        case "GC":
            registry.collect(network: config.name, keep: try config.validAttachments())
        case "STATUS":
            break
        default:
            throw CNIError(.invalidEnvironmentVariables, "unknown command \(command)")
        }
        return .object(JSONObject())
    }

    /// The lease as a CNI result: one address, the first router as gateway, the routes
    /// (RFC 3442 ones through 0.0.0.0 are on-link: scope link) with the configured metric.
    static func result(_ lease: DHCPLease, priority: Int) throws -> CNIResult {
        guard let address = IPAddress(bytes: lease.address) else {
            throw CNIError(.internalError, "DHCP server offered no address")
        }
        let gateway = lease.router.flatMap { IPAddress(bytes: $0) }
        let routes = lease.routes.compactMap { route -> CNIResult.Route? in
            guard let destination = IPAddress(bytes: route.destination) else { return nil }
            let onLink = route.gateway == [0, 0, 0, 0]
            return CNIResult.Route(
                dst: IPPrefix(address: destination, prefixLength: route.prefixLength),
                gw: onLink ? nil : IPAddress(bytes: route.gateway), priority: priority, scope: onLink ? 253 : nil)
        }
        return CNIResult(
            cniVersion: "1.0.0",
            ips: [
                CNIResult.IPConfig(
                    address: IPPrefix(address: address, prefixLength: lease.prefixLength), gateway: gateway)
            ],
            routes: routes)
    }
}
