import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where the plugins under test live and whether root-only tests can run.
public enum TestEnvironment {
    /// The plugin names, from the one list in Package.swift (`("bridge", "BridgePlugin", [...])`).
    public static let pluginNames: [String] = {
        let manifest =
            (try? String(contentsOf: repositoryRoot.appendingPathComponent("Package.swift"), encoding: .utf8)) ?? ""
        let names = manifest.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: "\"")
            guard line.trimmingCharacters(in: .whitespaces).hasPrefix("(\""), fields.count > 3,
                fields[3].hasSuffix("Plugin")
            else { return nil }
            return String(fields[1])
        }
        return names.sorted()
    }()

    /// True when running as root: integration tests need it for namespaces.
    public static var isRoot: Bool { geteuid() == 0 }

    /// The repository root, found from this file's location.
    public static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// The directory holding one executable per plugin name.
    ///
    /// `SWIFT_CNI_BIN_DIR` (set by Scripts/test.sh to the installed release build) wins;
    /// otherwise links to the debug multi-call binary are made, so plain `swift test` works.
    public static let pluginDirectory: String = {
        if let dir = ProcessInfo.processInfo.environment["SWIFT_CNI_BIN_DIR"], !dir.isEmpty { return dir }
        return debugLinks(".build/test-bin")
    }()

    /// `directory` (under the repository) filled with a link per plugin name to the debug
    /// build's multi-call binary.
    public static func debugLinks(_ directory: String) -> String {
        let binary = repositoryRoot.appendingPathComponent(".build/debug/cni-plugins").path
        let dir = repositoryRoot.appendingPathComponent(directory).path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in pluginNames {
            let link = dir + "/" + name
            try? FileManager.default.removeItem(atPath: link)
            try? FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: binary)
        }
        return dir
    }

    /// The multi-call binary under test (`cni-plugins`): the installed one when
    /// `SWIFT_CNI_BIN_DIR` is set, the debug build otherwise.
    public static var multiCallBinary: String {
        let installed = pluginDirectory + "/cni-plugins"
        if FileManager.default.fileExists(atPath: installed) { return installed }
        return repositoryRoot.appendingPathComponent(".build/debug/cni-plugins").path
    }

    /// The operator's tool under test (`cni`): the installed one beside the plugins when
    /// `SWIFT_CNI_BIN_DIR` is set, the debug build otherwise.
    public static var cniTool: String {
        let installed = pluginDirectory + "/cni"
        if FileManager.default.fileExists(atPath: installed) { return installed }
        return repositoryRoot.appendingPathComponent(".build/debug/cni").path
    }

    /// The path of one plugin under test.
    public static func plugin(_ name: String) -> String { pluginDirectory + "/" + name }

    /// The Go reference plugins (Debian package containernetworking-plugins).
    public static let referenceDirectory = "/usr/lib/cni"

    /// A fresh scratch directory under the system temp dir.
    public static func scratchDirectory(_ tag: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cnit-\(tag)-\(UUID().uuidString.prefix(8))"
        ).path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
