import CNISkeleton
import Netlink
import PluginSupport

/// Host links that attachments which are gone left: a port of a configured bridge named as
/// bridge plugins name host veths (`veth` and 8 hex digits, ours and the reference's alike) that
/// no cached attachment names as its host interface, and an IFB (`bwp<hash>`, bandwidth's)
/// whose attachment is not cached. Other ports (an uplink, a server) are never taken for one.
enum LinkLeaks {
    static func findings(_ lists: [NetworkList], _ live: Attachments) -> [DoctorCommand.Finding] {
        guard let host = try? RouteNetlink(), let links = try? host.links() else { return [] }
        let bridges = judgedBridges(lists, live)
        let hostInterfaces = Set(live.entries.flatMap(hostNames))
        let ifbs = Set(live.entries.map { "bwp" + SHA512.hexPrefix($0.network + $0.containerID, length: 12) })
        let bridgeIndexes = Set(links.filter { bridges.contains($0.name) && $0.kind == "bridge" }.map(\.index))
        var out: [DoctorCommand.Finding] = []
        for link in links {
            let strayPort =
                link.kind == "veth" && isPodVethName(link.name) && link.masterIndex.map(bridgeIndexes.contains) == true
                && !hostInterfaces.contains(link.name)
            let strayIFB = link.kind == "ifb" && isIFBName(link.name) && !ifbs.contains(link.name)
            guard strayPort || strayIFB else { continue }
            let index = link.index, name = link.name
            out.append(
                .init(
                    text: strayPort ? "veth \(name) on a CNI bridge, no attachment's" : "ifb \(name), no attachment's"
                ) {
                    // Deleted by index only while it still has this name: the index may be reused.
                    let now = try RouteNetlink()
                    guard (try? now.link(index: index))?.name == name else { return }
                    try now.deleteLink(index: index)
                })
        }
        return out
    }

    /// The configured networks' bridges whose ports can be judged. A live attachment whose
    /// result lists no interfaces (0.1/0.2 results, or none cached) could own any port of its
    /// bridge, so that bridge is left out.
    static func judgedBridges(_ lists: [NetworkList], _ live: Attachments) -> Set<String> {
        let bridgeOf = { (list: NetworkList) in
            list.plugins.filter { $0["type"]?.stringValue == "bridge" }.map { $0["bridge"]?.stringValue ?? "cni0" }
        }
        let unknown = Set(live.entries.filter { hostNames($0).isEmpty }.map(\.network))
        return Set(lists.flatMap(bridgeOf)).subtracting(lists.filter { unknown.contains($0.name) }.flatMap(bridgeOf))
    }

    static func isPodVethName(_ name: String) -> Bool { hasHexTail(name, prefix: "veth", digits: 8) }

    /// bandwidth's IFB: `bwp` and 12 hex digits.
    static func isIFBName(_ name: String) -> Bool { hasHexTail(name, prefix: "bwp", digits: 12) }

    static func hasHexTail(_ name: String, prefix: String, digits: Int) -> Bool {
        let bytes = Array(name.utf8)
        return name.hasPrefix(prefix) && bytes.count == prefix.utf8.count + digits
            && bytes[prefix.utf8.count...].allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// The host-side interfaces a cached result names.
    static func hostNames(_ entry: CachedAttachment) -> [String] {
        guard case .array(let interfaces)? = entry.result?.objectValue?["interfaces"] else { return [] }
        return interfaces.compactMap { item in
            let object = item.objectValue
            return (object?["sandbox"]?.stringValue ?? "").isEmpty ? object?["name"]?.stringValue : nil
        }
    }
}
