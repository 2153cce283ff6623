import CNISkeleton
import Netlink

/// One attachment's lease and its maintenance state.
final class LeaseRecord: @unchecked Sendable {
    // @unchecked: the mutable fields are only touched with the registry's monitor held.
    let exchange: DHCPExchange
    let network: String
    let containerID: String
    let ifname: String
    var lease: DHCPLease
    var obtained: Double
    /// When maintenance next talks to the server (T1 after a grant, sooner after a failure).
    var nextAttempt: Double
    var stopped = false

    init(exchange: DHCPExchange, network: String, containerID: String, ifname: String, lease: DHCPLease) {
        self.exchange = exchange
        self.network = network
        self.containerID = containerID
        self.ifname = ifname
        self.lease = lease
        obtained = Clock.now
        nextAttempt = obtained + Double(lease.renewSeconds)
    }
}

/// The daemon's leases, keyed by client ID, each renewed by its own thread: at T1 a
/// unicast renewal, past T2 a full acquire (rebinding), past expiry the link goes down and
/// maintenance stops. A link or namespace that is gone ends maintenance quietly.
final class LeaseRegistry: @unchecked Sendable {
    // @unchecked: `records` is only touched with `monitor` held.
    private let monitor = Monitor()
    private var records: [String: LeaseRecord] = [:]
    let log: @Sendable (String) -> Void

    init(log: @escaping @Sendable (String) -> Void) { self.log = log }

    func record(_ clientID: String) -> LeaseRecord? { monitor.locked { records[clientID] } }

    /// The lease of the attachment: the one held already, or a new one.
    func allocate(_ exchange: DHCPExchange, network: String, containerID: String, ifname: String) throws(DHCPFailure)
        -> DHCPLease
    {
        if let existing = monitor.locked({ records[exchange.clientID].map { $0.lease } }) {
            monitor.broadcast()
            return existing
        }
        let lease = try exchange.acquire()
        let record = LeaseRecord(
            exchange: exchange, network: network, containerID: containerID, ifname: ifname, lease: lease)
        let previous = monitor.locked { () -> LeaseRecord? in
            let old = records[exchange.clientID]
            records[exchange.clientID] = record
            return old
        }
        if let previous { stop(previous) }
        log(
            "acquired \(IPAddress(bytes: lease.address).map { "\($0)" } ?? "?")/\(lease.prefixLength) for \(exchange.clientID), lease \(lease.leaseSeconds) s"
        )
        Threads.detach { [self] in maintain(record) }
        return lease
    }

    /// Stops maintenance and releases the lease; an unknown client ID is fine.
    func release(_ clientID: String) {
        guard let record = monitor.locked({ records.removeValue(forKey: clientID) }) else { return }
        stop(record)
        record.exchange.release(record.lease)
        log("released \(clientID)")
    }

    /// Releases every lease of `network` whose attachment is not in `keep`.
    func collect(network: String, keep: [NetworkConfig.Attachment]) {
        let valid = Set(keep.map { "\($0.containerID)/\($0.ifname)" })
        let doomed = monitor.locked {
            records.filter {
                $0.value.network == network && !valid.contains("\($0.value.containerID)/\($0.value.ifname)")
            }.map(\.key)
        }
        for clientID in doomed { release(clientID) }
    }

    private func stop(_ record: LeaseRecord) {
        monitor.locked { record.stopped = true }
        monitor.broadcast()
    }

    private func maintain(_ record: LeaseRecord) {
        while true {
            let (stopped, lease, obtained) = monitor.locked { () -> (Bool, DHCPLease, Double) in
                while !record.stopped && Clock.now < record.nextAttempt { monitor.wait(until: record.nextAttempt) }
                return (record.stopped, record.lease, record.obtained)
            }
            if stopped { return }
            do {
                let renewed: DHCPLease
                if Clock.now < obtained + Double(lease.rebindSeconds) {
                    renewed = try record.exchange.renew(lease)
                } else {
                    renewed = try record.exchange.acquire()
                }
                monitor.locked {
                    record.lease = renewed
                    record.obtained = Clock.now
                    record.nextAttempt = record.obtained + Double(renewed.renewSeconds)
                }
                log("renewed \(record.exchange.clientID) for \(renewed.leaseSeconds) s")
            } catch {
                if error.linkGone || Clock.now >= obtained + Double(lease.leaseSeconds) {
                    if !error.linkGone { linkDown(record) }
                    log("maintenance of \(record.exchange.clientID) stops: \(error)")
                    monitor.locked {
                        if records[record.exchange.clientID] === record { records[record.exchange.clientID] = nil }
                    }
                    return
                }
                // Retry halfway to expiry, at least a second later.
                let retry = max(1, (obtained + Double(lease.leaseSeconds) - Clock.now) / 2)
                monitor.locked { record.nextAttempt = Clock.now + retry }
            }
        }
    }

    /// The lease expired: the address is no longer ours, so the link goes down.
    private func linkDown(_ record: LeaseRecord) {
        _ = try? NetworkNamespace(path: record.exchange.netns).withEntered { () throws -> Void in
            let route = try RouteNetlink()
            try route.setLink(index: try route.link(named: record.ifname).index, up: false)
        }
    }
}
