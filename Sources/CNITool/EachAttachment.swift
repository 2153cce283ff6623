import CNISkeleton

/// The verbs that work through every live cached attachment (reload, migrate): one progress
/// line each, `[i/n] network containerID ifname: what happened`, a summary, and exit 1 when
/// any failed.
enum EachAttachment {
    static func run(
        _ environment: [String: String], done verb: String, _ body: (CachedAttachment, ToolEnvironment) throws -> String
    ) -> (String, Int32) {
        let env: ToolEnvironment
        do { env = try ToolEnvironment(environment) } catch { return (error.json(cniVersion: "1.1.0") + "\n", 1) }
        let live = Attachments(ResultCache(root: env.cacheDirectory).entries()).entries
        var out = "", failed = 0
        for (index, entry) in live.enumerated() {
            out += "[\(index + 1)/\(live.count)] \(entry.network) \(entry.containerID) \(entry.ifname): "
            do {
                out += try body(entry, env) + "\n"
            } catch let failure as PluginFailure {
                failed += 1
                out += "\(failure.plugin) failed: " + String(decoding: failure.stdout, as: UTF8.self) + "\n"
            } catch {
                failed += 1
                out += "failed: \(error)\n"
            }
        }
        out += "\(verb) \(live.count - failed) of \(live.count) attachments\n"
        return (out, failed == 0 ? 0 : 1)
    }
}
