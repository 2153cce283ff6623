import Glibc
import CNISkeleton

/// The `dhcp` IPAM plugin: asks the `dhcp daemon` (same binary) for a lease on the
/// container interface. The daemon renews leases while the container lives.
public struct DhcpPlugin: CNIPlugin {
    /// The plugin instance the executables run.
    public static let plugin = DhcpPlugin()

    public let type = "dhcp"

    public init() {}

    /// Runs the daemon and never returns when the arguments are `daemon [flags]`.
    public static func runDaemonIfAsked(_ arguments: [String] = CommandLine.arguments) {
        guard arguments.count > 1, arguments[1] == "daemon" else { return }
        do {
            try DhcpDaemon(arguments: Array(arguments.dropFirst(2))).run()
        } catch {
            ProcessEnvironment().writeStderr("dhcp daemon: \(error.msg)\n")
            exit(2)
        }
    }

    /// The request the daemon gets: the CNI inputs, with CNI_NETNS made absolute.
    private func message(_ command: String, _ request: CNIRequest) -> JSONValue {
        var netns = request.netns
        if !netns.isEmpty && !netns.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
            if getcwd(&buffer, buffer.count) != nil {
                let directory = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
                netns = String(decoding: directory, as: UTF8.self) + "/" + netns
            }
        }
        return .object([
            ("command", .string(command)), ("containerID", .string(request.containerID)), ("netns", .string(netns)),
            ("ifname", .string(request.ifname)), ("args", .string(request.args.raw)),
            ("config", .object(request.config.fields.object)),
        ])
    }

    public func add(_ request: CNIRequest) throws -> CNIResult {
        let conf = try DhcpConfig(request.config)
        let reply = try DaemonProtocol.call(conf.socketPath, message("ADD", request))
        guard let json = reply["result"] else {
            throw CNIError(.internalError, "error calling DHCP.Allocate: no result")
        }
        var result: CNIResult
        do { result = try CNIResult(json: json, defaultVersion: "1.0.0") } catch {
            throw CNIError(.internalError, "error calling DHCP.Allocate: \(error)")
        }
        result.cniVersion = request.config.cniVersion
        return result
    }

    /// Releases the lease. A daemon that is not running holds no lease, so DEL succeeds
    /// then (the reference fails with "error dialing DHCP daemon").
    public func del(_ request: CNIRequest) throws {
        // Only the socket matters to DEL; options that fail to parse must not keep a lease.
        let path = ((try? request.config.ipam()) ?? nil)?.lenientString("daemonSocketPath") ?? ""
        let socketPath = path.isEmpty ? DhcpConfig.defaultSocketPath : path
        _ = try DaemonProtocol.call(socketPath, message("DEL", request), absentIsFine: true)
    }

    /// Succeeds when the daemon holds and maintains a lease for this attachment (the
    /// reference asks for a new lease instead).
    public func check(_ request: CNIRequest) throws {
        let conf = try DhcpConfig(request.config)
        _ = try DaemonProtocol.call(conf.socketPath, message("CHECK", request))
    }

    /// Releases the leases of this network's attachments that are not valid any more.
    public func gc(_ request: CNIRequest) throws {
        let conf = try DhcpConfig(request.config)
        _ = try DaemonProtocol.call(conf.socketPath, message("GC", request), absentIsFine: true)
    }

    /// Ready when the daemon answers.
    public func status(_ request: CNIRequest) throws {
        let conf = try DhcpConfig(request.config)
        do { _ = try DaemonProtocol.call(conf.socketPath, message("STATUS", request)) } catch {
            throw CNIError(.pluginNotAvailable, "DHCP daemon is not reachable at \(conf.socketPath): \(error.msg)")
        }
    }
}
