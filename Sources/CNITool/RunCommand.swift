import CNISkeleton
import PluginSupport

/// `cni run add|check|del|gc|status NETWORK [NETNS]`: what cnitool does.
public enum RunCommand {
    public static let help = """
        usage: cni run add|check|del NETWORK NETNS_PATH
               cni run gc|status NETWORK

        Runs a network's plugin list the way libcni does (and cnitool with it): ADD in order,
        each plugin getting the previous one's result; CHECK in order and DEL in reverse, with
        the result cached by ADD as prevResult; GC (every cached attachment of the network is
        deleted first, as cnitool does) and STATUS in order. ADD prints the final result; a
        plugin's error is printed as it came, and the exit status is then 1.

        The container ID is cnitool's, derived from the netns path, unless CNI_CONTAINERID is set.

        Environment: NETCONFPATH (default /etc/cni/net.d), CNI_PATH (default /opt/cni/bin),
        CNI_IFNAME (default eth0), CNI_ARGS, CAP_ARGS (JSON capability arguments, such as
        {"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}), CNI_CACHE_DIR
        (default /var/lib/cni; results are in <dir>/results, as runtimes write them).

        examples:
          ip netns add demo
          cni run add podman /var/run/netns/demo
          CAP_ARGS='{"portMappings":[{"hostPort":8080,"containerPort":80}]}' cni run add podman /var/run/netns/demo
          cni run check podman /var/run/netns/demo
          cni run del podman /var/run/netns/demo

        """

    /// cnitool's container ID: `cnitool-` and the first 10 bytes of the SHA-512 of the netns path, in hex.
    public static func containerID(netns: String) -> String {
        "cnitool-" + SHA512.hexPrefix(netns, length: 20)
    }

    /// Go's `filepath.Abs`, which cnitool applies before hashing: joined to `cwd` when
    /// relative, then cleaned (no `.`, no `..`, no doubled or trailing `/`).
    static func absolute(_ path: String, cwd: String) -> String {
        var parts: [Substring] = []
        for part in ((path.hasPrefix("/") ? "" : cwd + "/") + path).split(separator: "/") {
            if part == "." { continue }
            if part == ".." { _ = parts.popLast() } else { parts.append(part) }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Runs the verb; returns what to print on stdout and the exit status.
    public static func run(_ arguments: [String], environment: [String: String], cwd: String) -> (String, Int32) {
        guard let verb = arguments.first, ["add", "check", "del", "gc", "status"].contains(verb), arguments.count >= 2
        else { return (help, 2) }
        let needsNetns = ["add", "check", "del"].contains(verb)
        guard !needsNetns || arguments.count >= 3 else { return (help, 2) }
        do {
            let env = try ToolEnvironment(environment)
            let list = try NetworkList.load(arguments[1], from: env.configDirectory)
            let chain = Chain(list: list, environment: env, executor: ExecExecutor(path: env.pluginPath))
            var netns = arguments.count >= 3 ? arguments[2] : ""
            if !netns.isEmpty { netns = absolute(netns, cwd: cwd) }
            let id = environment["CNI_CONTAINERID"].flatMap { $0.isEmpty ? nil : $0 } ?? containerID(netns: netns)
            switch verb {
            case "add": return (JSONWriter.indented(try chain.add(containerID: id, netns: netns)) + "\n", 0)
            case "check": try chain.check(containerID: id, netns: netns)
            case "del": try chain.del(containerID: id, netns: netns)
            case "gc": try chain.gc()
            default: try chain.status()
            }
            return ("", 0)
        } catch let failure as PluginFailure {
            // A plugin killed by a signal (or one that printed nothing) still gets a CNI error,
            // in libcni's words.
            guard !failure.stdout.isEmpty else {
                let message = "netplugin failed with no error message: exit status \(failure.status)"
                return (CNIError(.internalError, message).json(cniVersion: "1.1.0") + "\n", 1)
            }
            return (String(decoding: failure.stdout, as: UTF8.self), 1)
        } catch let error as CNIError {
            return (error.json(cniVersion: "1.1.0") + "\n", 1)
        } catch {
            return (CNIError(.internalError, "\(error)").json(cniVersion: "1.1.0") + "\n", 1)
        }
    }
}
