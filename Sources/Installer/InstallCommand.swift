import CNISkeleton
import CNISystem

/// `cni-plugins install`: what a cluster's DaemonSet runs on every node. It puts this binary
/// and a hard link per plugin into the plugin directory, and optionally renders a conflist
/// template with the node's pod CIDRs into the conf directory, all atomically. Everything is
/// checked before anything is written, so bad input leaves the node as it was.
public enum InstallCommand {
    struct Options {
        var dest = "/opt/cni/bin"
        var confDir = "/etc/cni/net.d"
        var template: String?
        var podCIDRs: String?
    }

    public static let usage = """
        usage: cni-plugins install [--dest DIR] [--conflist TEMPLATE --pod-cidr CIDR[,CIDR] [--conf-dir DIR]]
          --dest DIR          where the plugins go (default /opt/cni/bin); other files there are left alone
          --conflist FILE     a conflist template; {{.PodCIDR}} and {{.PodCIDRRanges}} are filled in
          --pod-cidr LIST     the node's pod CIDR(s), comma-separated (IPv4 first for dual stack)
          --conf-dir DIR      where the rendered conflist goes (default /etc/cni/net.d), named after
                              the template without a .template/.tmpl suffix

        """

    /// Runs the command with the arguments after `install`; returns the exit status.
    public static func run(_ arguments: [String], plugins: [String]) -> Int32 {
        do {
            guard let options = try parse(arguments) else {
                ProcessEnvironment().writeStdout(usage)
                return 0
            }
            try install(options, plugins: plugins)
            return 0
        } catch {
            ProcessEnvironment().writeStderr("cni-plugins install: \(error)\n")
            return 1
        }
    }

    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    /// nil for `--help`.
    static func parse(_ arguments: [String]) throws(UsageError) -> Options? {
        var options = Options()
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            if flag == "--help" || flag == "-h" { return nil }
            let name = flag.hasPrefix("--") ? String(flag.dropFirst(2)) : flag
            let key = String(name.prefix { $0 != "=" })
            let inline = name.contains("=") ? String(name.drop { $0 != "=" }.dropFirst()) : nil
            guard let value = inline ?? rest.popFirst() else {
                throw UsageError(description: "\(flag) needs a value\n\(usage)")
            }
            switch key {
            case "dest": options.dest = value
            case "conf-dir": options.confDir = value
            case "conflist": options.template = value
            case "pod-cidr": options.podCIDRs = value
            default: throw UsageError(description: "unknown option \(flag)\n\(usage)")
            }
        }
        if options.template != nil && (options.podCIDRs ?? "").isEmpty {
            throw UsageError(description: "--conflist needs --pod-cidr with the node's pod CIDR(s)")
        }
        if options.template == nil && options.podCIDRs != nil {
            throw UsageError(description: "--pod-cidr is only used with --conflist")
        }
        return options
    }

    static func install(_ options: Options, plugins: [String]) throws {
        // Everything that can be refused is checked first.
        var conflist: (name: String, bytes: [UInt8])?
        if let template = options.template, let cidrs = options.podCIDRs {
            let rendered = try ConflistTemplate(try readTemplate(template)).render(
                podCIDRs: ConflistTemplate.podCIDRs(cidrs))
            conflist = (try outputName(template), Array(rendered.utf8))
        }
        let binary = try AtomicInstall.ownExecutable()
        let bin = AtomicInstall(directory: options.dest)
        try bin.prepare()
        let conf = AtomicInstall(directory: options.confDir)
        if conflist != nil { try conf.prepare() }

        try bin.write("cni-plugins", binary, mode: 0o755)
        for name in plugins { try bin.link(name, to: "cni-plugins") }
        bin.syncDirectory()
        ProcessEnvironment().writeStdout("installed \(plugins.count) plugins into \(options.dest)\n")
        if let conflist {
            try conf.write(conflist.name, conflist.bytes, mode: 0o644)
            conf.syncDirectory()
            ProcessEnvironment().writeStdout("wrote \(options.confDir)/\(conflist.name)\n")
        }
    }

    /// The template's file name without `.template` or `.tmpl`; it must name a conf or conflist.
    static func outputName(_ template: String) throws(UsageError) -> String {
        var name = String(template.split(separator: "/").last ?? "")
        for suffix in [".template", ".tmpl"] where name.hasSuffix(suffix) { name.removeLast(suffix.count) }
        guard name.hasSuffix(".conflist") || name.hasSuffix(".conf"), !name.hasPrefix(".") else {
            throw UsageError(
                description: "template \(template): its name, less .template, must end in .conflist or .conf")
        }
        return name
    }

    static func readTemplate(_ path: String) throws(UsageError) -> String {
        do {
            guard let bytes = try FileIO.readFile(path, limit: ConfigLimits.maximumStdinBytes) else {
                throw UsageError(description: "cannot read template \(path): it does not exist")
            }
            return String(decoding: bytes, as: UTF8.self)
        } catch let error as UsageError {
            throw error
        } catch {
            throw UsageError(description: "cannot read template \(path): \(error)")
        }
    }
}
