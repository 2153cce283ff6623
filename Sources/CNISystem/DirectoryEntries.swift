import Glibc

/// The names in a directory, without `.` and `..`: one readdir loop for every listing.
public enum DirectoryEntries {
    /// Reads what is left of the open stream `dir`; the caller keeps ownership of it.
    public static func names(_ dir: OpaquePointer) -> [String] {
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The names in the directory at `path`; nil when it cannot be opened.
    public static func names(atPath path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        return names(dir)
    }
}
