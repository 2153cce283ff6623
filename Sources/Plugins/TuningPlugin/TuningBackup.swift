import CNISkeleton
import Netlink
import PluginSupport

/// The attributes tuning changed, as the reference stores them (`mac`, `promisc`, `mtu`,
/// `allmulti`, `txQLen`; only those the config sets).
struct TuningBackup {
    var mac: String?
    var promisc: Bool?
    var mtu: UInt32?
    var allMulticast: Bool?
    var txQueueLength: UInt32?

    /// The current values of what `conf` is about to change.
    init(of link: Link, for conf: TuningConfig) {
        if conf.mac != nil { mac = link.hardwareAddress.description }
        if conf.promisc { promisc = link.flags.contains(.promiscuous) }
        if conf.mtu != nil { mtu = link.mtu }
        if conf.allMulticast != nil { allMulticast = link.flags.contains(.allMulticast) }
        if conf.txQueueLength != nil { txQueueLength = link.txQueueLength }
    }

    init?(json bytes: [UInt8]) {
        guard let object = try? JSONParser.parse(bytes).objectValue else { return nil }
        let f = JSONFields(object, typeName: "configToRestore")
        mac = (try? f.string("mac")).flatMap { $0 }.flatMap { $0.isEmpty ? nil : $0 }
        promisc = (try? f.bool("promisc")).flatMap { $0 }
        // The backup is state on disk: a value no link can have is ignored, never trapped on.
        mtu = (try? f.int("mtu")).flatMap { $0 }.flatMap { $0 > 0 ? UInt32(exactly: $0) : nil }
        allMulticast = (try? f.bool("allmulti")).flatMap { $0 }
        txQueueLength = (try? f.int("txQLen")).flatMap { $0 }.flatMap { $0 >= 0 ? UInt32(exactly: $0) : nil }
    }

    /// Go's `json.MarshalIndent(config, "", " ")` of the reference's struct.
    var json: String {
        var members: [(String, JSONValue)] = []
        if let mac { members.append(("mac", .string(mac))) }
        if let promisc { members.append(("promisc", .bool(promisc))) }
        if let mtu { members.append(("mtu", .int(Int(mtu)))) }
        if let allMulticast { members.append(("allmulti", .bool(allMulticast))) }
        if let txQueueLength { members.append(("txQLen", .int(Int(txQueueLength)))) }
        return JSONWriter.indented(.object(members), indent: " ")
    }

    func restore(_ route: RouteNetlink, index: Int32) throws {
        var failures: [String] = []
        func attempt(_ what: String, _ change: RouteNetlink.LinkChange) {
            do { try route.setLink(index: index, change) } catch {
                failures.append("failed to restore \(what): \(error)")
            }
        }
        if let mtu { attempt("MTU", .mtu(mtu)) }
        if let mac, let parsed = MACAddress(mac) { attempt("MAC address", .hardwareAddress(parsed)) }
        if let promisc { attempt("promiscuous mode", .promiscuous(promisc)) }
        if let allMulticast { attempt("all-multicast mode", .allMulticast(allMulticast)) }
        if let txQueueLength { attempt("tx queue length", .txQueueLength(txQueueLength)) }
        if !failures.isEmpty { throw CNIError(.internalError, failures.joined(separator: "; ")) }
    }

    /// CHECK: the link carries what the config asks for (promisc must be off unless asked).
    static func verify(_ conf: TuningConfig, link: Link, ifname: String) throws(CNIError) {
        if let mac = conf.macText, mac.lowercased() != link.hardwareAddress.description {
            throw CNIError(
                .internalError,
                "Error: Tuning configured Ethernet of \(ifname) is \(mac), current value is \(link.hardwareAddress.description)"
            )
        }
        if conf.promisc != link.flags.contains(.promiscuous) {
            throw CNIError(
                .internalError,
                "Error: Tuning link \(ifname) configured promisc is \(conf.promisc), current value is \(link.flags.contains(.promiscuous))"
            )
        }
        if let mtu = conf.mtu, mtu != link.mtu {
            throw CNIError(
                .internalError, "Error: Tuning configured MTU of \(ifname) is \(mtu), current value is \(link.mtu)")
        }
        if let on = conf.allMulticast, on != link.flags.contains(.allMulticast) {
            throw CNIError(
                .internalError,
                "Error: Tuning configured all-multicast mode of \(ifname) is \(on), current value is \(!on)")
        }
        if let length = conf.txQueueLength, length != link.txQueueLength {
            throw CNIError(
                .internalError,
                "Error: Tuning configured transmit queue length of \(ifname) is \(length), current value is \(link.txQueueLength)"
            )
        }
    }
}
