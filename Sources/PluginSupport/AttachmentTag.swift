import CNISkeleton

/// The rule comment that ties an nftables rule to one attachment (network, interface,
/// container), in the format of the reference's nftables ipmasq backend:
/// `<hash(network)>-<hash(ifname:containerID)>, net: N, if: I, id: C`. The hash prefix lets
/// DEL and GC find an attachment's rules, or a network's, without decoding any rule.
public struct AttachmentTag: Sendable, Equatable {
    public var network: String
    public var ifname: String
    public var containerID: String

    public init(network: String, ifname: String, containerID: String) {
        self.network = network
        self.ifname = ifname
        self.containerID = containerID
    }

    /// knftables' limit on comment length.
    static let commentLimit = 128

    /// The prefix shared by every rule of `network`.
    public static func networkPrefix(_ network: String) -> String { SHA512.hexPrefix(network, length: 16) + "-" }

    /// The prefix of this attachment's rules.
    public var prefix: String { Self.networkPrefix(network) + SHA512.hexPrefix(ifname + ":" + containerID, length: 16) }

    /// The full comment, double quotes removed, cut to 128 bytes.
    public var comment: String {
        func clean(_ s: String) -> String { s.split(separator: "\"", omittingEmptySubsequences: false).joined() }
        let text = "\(prefix), net: \(clean(network)), if: \(clean(ifname)), id: \(clean(containerID))"
        return String(decoding: Array(text.utf8).prefix(Self.commentLimit), as: UTF8.self)
    }

    /// Whether a rule's comment belongs to `network` but to none of `keep`. The prefixes are
    /// hashed once here, not once per rule and kept attachment: a GC over a chain of N rules
    /// with K valid attachments costs N set lookups, not N x K hashes.
    public static func staleMatcher(network: String, keep: [NetworkConfig.Attachment]) -> (String) -> Bool {
        let ours = networkPrefix(network)
        let kept = Set(
            keep.map { AttachmentTag(network: network, ifname: $0.ifname, containerID: $0.containerID).prefix })
        let length = ours.utf8.count + 16
        return { comment in
            guard comment.hasPrefix(ours) else { return false }
            return !kept.contains(String(decoding: comment.utf8.prefix(length), as: UTF8.self))
        }
    }
}

extension AttachmentTag {
    /// The attachment a request names: its network, interface and container.
    public init(_ request: CNIRequest) {
        self.init(network: request.config.name, ifname: request.ifname, containerID: request.containerID)
    }
}

extension AttachmentTag {
    /// The comment portmap writes on a container's elements and rules: its ID, as the reference
    /// writes it; an ID too long for the kernel's 256 bytes of userdata is cut and followed by a
    /// hash of the whole, so it still names exactly that container.
    public static func portmapOwner(_ containerID: String) -> String {
        let bytes = Array(containerID.utf8)
        guard bytes.count > 200 else { return containerID }
        return String(decoding: bytes.prefix(128), as: UTF8.self) + "-" + SHA512.hexPrefix(containerID, length: 32)
    }
}
