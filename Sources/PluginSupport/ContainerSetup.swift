import CNISystem
import Netlink

/// The container's route socket and sysctl directories, made by a thread inside its netns
/// that runs while the plugin goes on with its host-side work: the thread's creation, its
/// `setns` and the lookups there (0.3 ms or more on a busy node) overlap the veth's creation
/// instead of preceding it. The first use waits for the thread.
final class ContainerSetup {
    private typealias Made = (NetlinkSocket, SysctlDirectories?)
    private enum State {
        case running(NamespaceThread)
        case done(Result<Made, any Error>)
    }
    private var state: State

    init(_ namespace: NetworkNamespace, needs: ContainerNeeds) throws {
        state = .running(
            try namespace.start { () throws -> Made in
                (try NetlinkSocket(), needs.contains(.ipv6Sysctls) ? SysctlDirectories(opening: ["ipv6"]) : nil)
            })
    }

    /// The socket and directories, once the thread is done; what it threw otherwise.
    func resolve() throws -> (NetlinkSocket, SysctlDirectories?) {
        switch state {
        case .done(let made): return try made.get()
        case .running(let thread):
            let made = Result { try thread.join(as: Made.self) }
            state = .done(made)
            return try made.get()
        }
    }

    /// The socket, with any failure to make it as the netlink error a request would give.
    func socket() throws(NetlinkError) -> NetlinkSocket {
        do { return try resolve().0 } catch let error as NetlinkError { throw error } catch {
            // The namespace's own errno, said once (not the text plus an unrelated errno).
            if case .system(let operation, let errno) = error as? NamespaceError {
                throw NetlinkError(kind: .system, operation: "container socket: \(operation)", errno: errno)
            }
            throw NetlinkError(kind: .system, operation: "container socket: \(error)", errno: .invalidArgument)
        }
    }
}

/// The container's route socket as a transport: requests wait for ``ContainerSetup`` and then
/// go to the socket it made.
final class DeferredTransport: NetlinkTransport {
    private let setup: ContainerSetup

    init(_ setup: ContainerSetup) { self.setup = setup }

    var portID: UInt32 { (try? setup.socket().portID) ?? 0 }
    func send(_ bytes: [UInt8]) throws(NetlinkError) { try setup.socket().send(bytes) }
    func receive() throws(NetlinkError) -> [UInt8] { try setup.socket().receive() }
    func reserveBuffers(send: Int, receive: Int) {
        (try? setup.socket())?.reserveBuffers(send: send, receive: receive)
    }
    func releaseInBackground() { (try? setup.socket())?.releaseInBackground() }
}
