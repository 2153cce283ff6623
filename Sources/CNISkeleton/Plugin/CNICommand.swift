/// The operations of the CNI protocol (`CNI_COMMAND`).
public enum CNICommand: String, Sendable, CaseIterable {
    case add = "ADD"
    case del = "DEL"
    case check = "CHECK"
    case gc = "GC"
    case status = "STATUS"
    case version = "VERSION"

    /// The environment variables skel requires for this command, in skel's order.
    var requiredVariables: Set<String> {
        switch self {
        case .add, .check: return ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"]
        case .del: return ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"]
        case .gc, .status: return ["CNI_PATH"]
        case .version: return []
        }
    }

    /// The lowest config version that allows this command.
    var minimumConfigVersion: String? {
        switch self {
        case .check: return "0.4.0"
        case .gc, .status: return "1.1.0"
        default: return nil
        }
    }
}
