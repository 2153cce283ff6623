import CNISystem
/// rtnetlink verbs over one connection, in the netns the connection's socket was opened in.
public final class RouteNetlink {
    public let connection: NetlinkConnection

    public init(connection: NetlinkConnection) { self.connection = connection }

    /// Opens a route socket in the calling thread's network namespace.
    public convenience init() throws(NetlinkError) {
        self.init(connection: try NetlinkConnection())
    }

    /// `RTEXT_FILTER_VF`, the extended mask iproute2 sends with link queries.
    static let extMaskVF: UInt32 = 1

    /// The request `ip link show dev NAME` sends.
    static func getLinkRequest(name: String) -> [UInt8] {
        var w = AttributeWriter()
        w.header(InterfaceInfoHeader(family: .packet).encoded)
        w.string(LinkAttribute.ifname, name)
        w.u32(LinkAttribute.extMask, extMaskVF)
        return w.bytes
    }

    /// The request `ip link set dev X up|down` sends.
    static func setLinkStateRequest(index: Int32, up: Bool) -> [UInt8] {
        InterfaceInfoHeader(index: index, flags: up ? .up : [], change: .up).encoded
    }

    /// The link called `name`. Throws `.notFound` when there is none.
    /// The corresponding kernel message is `RTM_GETLINK`.
    public func link(named name: String) throws(NetlinkError) -> Link {
        do {
            return try Link(
                payload: connection.single(.getLink, payload: RouteNetlink.getLinkRequest(name: name)).payload)
        } catch let error where error.kind == .kernel && error.errno == .noSuchDevice {
            throw NetlinkError(kind: .notFound, operation: "link \"\(name)\" not found", errno: .noSuchDevice)
        }
    }

    /// Every link in the namespace. The corresponding kernel message is `RTM_GETLINK` with `NLM_F_DUMP`.
    public func links() throws(NetlinkError) -> [Link] {
        let request = InterfaceInfoHeader(family: .packet).encoded
        var out: [Link] = []
        for message in try connection.dump(.getLink, payload: request) where message.type == .newLink {
            out.append(try Link(payload: message.payload))
        }
        return out
    }

    /// Sets the administrative state of a link. The corresponding kernel message is `RTM_NEWLINK`.
    public func setLink(index: Int32, up: Bool) throws(NetlinkError) {
        try connection.acknowledged(.newLink, payload: RouteNetlink.setLinkStateRequest(index: index, up: up))
    }
}
