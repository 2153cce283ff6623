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
    /// `obtained` on the wall clock, which is what survives a restart.
    var obtainedWall: Double
    /// The netns the lease was granted in (`NetworkNamespace.identity`), saved with it.
    var netnsIdentity = ""
    /// Taken up from disk and not yet confirmed by the server: a failure then never takes the
    /// link down, in case the netns path now names another namespace than the lease's.
    var unconfirmed = false
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
        obtainedWall = Clock.wall
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
    /// Where the leases are saved; nil keeps them in memory only.
    let store: LeaseStore?

    init(store: LeaseStore? = nil, log: @escaping @Sendable (String) -> Void) {
        self.store = store
        self.log = log
    }

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
        record.netnsIdentity = (try? NetworkNamespace(path: exchange.netns))?.identity ?? ""
        let previous = monitor.locked { () -> LeaseRecord? in
            let old = records[exchange.clientID]
            records[exchange.clientID] = record
            save(record)
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
        let removed = monitor.locked { () -> LeaseRecord? in
            let record = records.removeValue(forKey: clientID)
            if record != nil { store?.remove(clientID) }
            return record
        }
        guard let record = removed else { return }
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

    /// Saves a record that is still the registry's (called with the monitor held, so a release
    /// that removed the file is never followed by a save of the lease it released).
    private func save(_ record: LeaseRecord) {
        guard let store, !record.stopped, records[record.exchange.clientID] === record else { return }
        do { try store.save(record) } catch { log("could not save the lease of \(record.exchange.clientID): \(error)") }
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
                    record.obtainedWall = Clock.wall
                    record.nextAttempt = record.obtained + Double(renewed.renewSeconds)
                    record.unconfirmed = false
                    save(record)
                }
                log("renewed \(record.exchange.clientID) for \(renewed.leaseSeconds) s")
            } catch {
                if error.linkGone || Clock.now >= obtained + Double(lease.leaseSeconds) {
                    if !error.linkGone && !monitor.locked({ record.unconfirmed }) { linkDown(record) }
                    log("maintenance of \(record.exchange.clientID) stops: \(error)")
                    monitor.locked {
                        if records[record.exchange.clientID] === record {
                            records[record.exchange.clientID] = nil
                            store?.remove(record.exchange.clientID)
                        }
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

extension LeaseRegistry {
    /// Takes up the leases a previous daemon saved: each whose interface still exists in its
    /// netns is renewed at once (or acquired again, past its rebinding time) and then kept as
    /// any other; the others are dropped, since their pod is gone.
    func restore(_ saved: [LeaseStore.Saved]) {
        for entry in saved {
            let clientID = entry.exchange.clientID
            guard Self.attached(entry) else {
                store?.remove(clientID)
                log("dropped the saved lease of \(clientID): its netns or interface is gone")
                continue
            }
            let record = LeaseRecord(
                exchange: entry.exchange, network: entry.network, containerID: entry.containerID,
                ifname: entry.exchange.ifname, lease: entry.lease)
            let age = min(max(0, Clock.wall - entry.obtainedWall), Double(entry.lease.leaseSeconds) + 1)
            record.obtained = Clock.now - age
            record.obtainedWall = entry.obtainedWall
            record.netnsIdentity = entry.netnsIdentity
            record.unconfirmed = true
            // Spread over a second, so a node with many pods does not renew them all at once.
            record.nextAttempt = Clock.now + Double.random(in: 0..<1)
            let taken = monitor.locked { () -> Bool in
                guard records[clientID] == nil else { return false }
                records[clientID] = record
                return true
            }
            guard taken else { continue }
            log("restored \(clientID), \(Int(Double(entry.lease.leaseSeconds) - age)) s left")
            Threads.detach { [self] in maintain(record) }
        }
    }

    /// The lease's interface is still there, in the very netns it was granted in (a path such
    /// as `/proc/<pid>/ns/net` may name another one after a restart), which is not the
    /// daemon's own, and with the hardware address the server granted the lease to.
    static func attached(_ saved: LeaseStore.Saved) -> Bool {
        let exchange = saved.exchange
        guard !exchange.netns.isEmpty, !saved.netnsIdentity.isEmpty,
            let namespace = try? NetworkNamespace(path: exchange.netns), namespace.identity == saved.netnsIdentity,
            namespace.identity != (try? NetworkNamespace.current())?.identity,
            let link = try? namespace.withEntered({ try RouteNetlink().link(named: exchange.ifname) })
        else { return false }
        return link.hardwareAddress.bytes == DHCPMessage(bytes: saved.lease.packet)?.hardwareAddress
    }
}
