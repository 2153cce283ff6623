import Glibc
import CNISkeleton
import CNISystem
import Netlink

/// Opening the container's side of an attachment, the way ARCHITECTURE.md describes:
/// enter the netns on a dedicated thread only to create the socket, then work from here.
public enum ContainerNetwork {
    /// A route socket inside the netns at `path`.
    ///
    /// Throws `NamespaceError.notExist` when the path is gone (DEL treats that as done).
    public static func routeSocket(netns path: String) throws -> RouteNetlink {
        let namespace = try NetworkNamespace(path: path)
        return try namespace.withEntered { try RouteNetlink() }
    }

    /// True when `error` means the netns no longer exists, which DEL must treat as success.
    public static func isMissingNamespace(_ error: any Error) -> Bool {
        if case NamespaceError.notExist? = error as? NamespaceError { return true }
        return false
    }
}

extension ContainerNetwork {
    /// Blocks the calling thread (the plugin path is synchronous).
    public static func sleep(microseconds: UInt32) { Sleep.microseconds(microseconds) }
}
