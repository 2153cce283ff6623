import CNISkeleton
import CNISystem
import CNITool
import Glibc

// First of all: the tool's own netfilter commits (reload, migrate, doctor --fix) hand their
// socket's release to this same executable started as the helper (see DeferredClose).
DeferredClose.runHelperIfAsked()

// `cni`: the operator's tool. Verbs dispatch to CNITool; every one reads the same
// environment as cnitool (NETCONFPATH, CNI_PATH, CNI_IFNAME, CNI_ARGS, CAP_ARGS, CNI_CACHE_DIR).
let usage = """
    usage: cni <verb> [arguments]

    verbs:
      run add|check|del|gc|status NETWORK [NETNS_PATH]   run a network's plugins, as cnitool does
      show [NETWORK] [--json]                            every cached attachment, checked against the node
      doctor [--fix]                                     what attachments that are gone left behind
      reload                                             put back the nftables state of live attachments
      migrate [--dry-run]                                move live attachments off the reference's iptables rules

    `cni <verb> --help` explains a verb, with examples.

    """

var environment: [String: String] = [:]
var index = 0
while let entry = environ[index] {
    let text = String(cString: entry)
    if let equals = text.firstIndex(of: "=") {
        environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
    }
    index += 1
}
let arguments = Array(CommandLine.arguments.dropFirst())
let rest = Array(arguments.dropFirst())
var cwd = [CChar](repeating: 0, count: Int(PATH_MAX))
let directory = getcwd(&cwd, cwd.count).map { String(cString: $0) } ?? "/"

let (output, status): (String, Int32)
switch arguments.first {
case "run" where rest.contains("--help") || rest.contains("-h"): (output, status) = (RunCommand.help, 0)
case "run": (output, status) = RunCommand.run(rest, environment: environment, cwd: directory)
case "show" where rest.contains("--help") || rest.contains("-h"): (output, status) = (ShowCommand.help, 0)
case "show": (output, status) = ShowCommand.run(rest, environment: environment)
case "doctor" where rest.contains("--help") || rest.contains("-h"): (output, status) = (DoctorCommand.help, 0)
case "doctor": (output, status) = DoctorCommand.run(rest, environment: environment)
case "reload" where rest.contains("--help") || rest.contains("-h"): (output, status) = (ReloadCommand.help, 0)
case "reload": (output, status) = ReloadCommand.run(rest, environment: environment)
case "migrate" where rest.contains("--help") || rest.contains("-h"): (output, status) = (MigrateCommand.help, 0)
case "migrate": (output, status) = MigrateCommand.run(rest, environment: environment)
case "--help", "-h", "help": (output, status) = (usage, 0)
default: (output, status) = (usage, 2)
}
// Usage goes to stderr when it answers a mistake; everything else to stdout.
if status == 2 { ProcessEnvironment().writeStderr(output) } else { ProcessEnvironment().writeStdout(output) }
exit(status)
