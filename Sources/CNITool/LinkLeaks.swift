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
        let bridges = Set(
            lists.flatMap { list in
                list.plugins.filter { $0["type"]?.stringValue == "bridge" }.map { $0["bridge"]?.stringValue ?? "cni0" }
            })
        let hostInterfaces = Set(live.entries.flatMap(hostNames))
        let ifbs = Set(live.entries.map { "bwp" + SHA512.hexPrefix($0.network + $0.containerID, length: 12) })
        let bridgeIndexes = Set(links.filter { bridges.contains($0.name) && $0.kind == "bridge" }.map(\.index))
        var out: [DoctorCommand.Finding] = []
        for link in links {
            let strayPort =
                link.kind == "veth" && isPodVethName(link.name) && link.masterIndex.map(bridgeIndexes.contains) == true
                && !hostInterfaces.contains(link.name)
            let strayIFB = link.kind == "ifb" && link.name.hasPrefix("bwp") && !ifbs.contains(link.name)
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

    static func isPodVethName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return bytes.count == 12 && name.hasPrefix("veth")
            && bytes[4...].allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
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
