/// Recovery-aware retry (DESIGN.md, Delivery rules): a destination that cannot be reached is marked down; its
/// messages stop making attempts of their own and one probe runs every `probeinterval` seconds. The first
/// success — a probe, a fresh message, a flush — makes every message waiting for it due at once, so a primary
/// that comes back gets its backlog in seconds and a long outage costs one connection per probe interval.
extension Scheduler {
    /// Parks recipient `index` if its destination is down; true when parked. While a destination is down it
    /// gets one attempt per probe interval, whatever arrives: a message that comes due when a probe is due
    /// (a fresh one included) goes out as the probe, every other one waits. A stream of fresh messages during
    /// an outage must not cost a connection each.
    func park(_ index: Int, of message: QueuedMessage) -> Bool {
        let recipient = message.state.recipients[index]
        let name = config.destination(for: Address.domain(of: recipient.address))
        guard let destination = destinations[name], destination.isDown, destination.probeMessage != message.id else { return false }
        let now = MailDate.now()
        if !destination.probing && destination.nextProbe <= now {
            destination.probing = true
            destination.probeMessage = message.id
            destination.nextProbe = now + config.probeInterval
            return false
        }
        message.parked[index] = name
        // quail-qread shows the next probe as the next attempt: that is when it may be tried.
        message.state.recipients[index].nextAttempt = max(destination.nextProbe, now)
        destination.waiting.insert(message.id)
        return true
    }

    /// Handles `Hdown` from a remote delivery: marks the destination down and returns when its next probe is due,
    /// which is when the delivery's deferred recipients are parked until. `nil` when the report is not `down`.
    func noteDown(_ report: DestinationReport?, at name: String, results: [DeliveryResult]) -> Int? {
        destinations[name]?.probing = false
        destinations[name]?.probeMessage = nil
        // NXDOMAIN or a null MX also end in Hdown, but they fail every recipient for good: nothing waits.
        guard case .down(let reason) = report, results.contains(where: { if case .deferred = $0 { true } else { false } }) else {
            return nil
        }
        let now = MailDate.now()
        let destination = destinations[name] ?? Destination(name: name)
        destinations[name] = destination
        if !destination.isDown {
            destination.isDown = true
            Diagnostics.log("status: destination \(name) is down (\(reason)); its messages wait, probing every \(config.probeInterval)s")
        }
        destination.nextProbe = now + config.probeInterval
        publishDown(name, answer: reason, now: now)
        expireParked(at: destination, now: now)
        return destination.nextProbe
    }

    /// A delivery to `name` succeeded, or a host there answered (`answer`): every message parked there is due now.
    func markUp(_ name: String, answer: String) {
        publishUp(name, answer: answer, now: MailDate.now())
        guard let destination = destinations[name] else { return }
        let count = destination.waiting.count
        if destination.isDown { Diagnostics.log("status: destination \(name) is up; \(count) waiting messages are due now") }
        release(name, now: MailDate.now())
        destinations[name] = nil
    }

    /// Unparks every recipient waiting for `name` and makes it due at `now`.
    func release(_ name: String, now: Int) {
        guard let destination = destinations[name] else { return }
        for id in destination.waiting {
            guard let message = messages[id] else { continue }
            unpark(message, at: name, now: now)
        }
        destination.waiting.removeAll()
        destination.isDown = false
        destination.probing = false
    }

    /// Starts a probe for every down destination whose interval has passed: one waiting message is made due.
    func startProbes(_ now: Int) {
        for destination in destinations.values where destination.isDown && !destination.probing && destination.nextProbe <= now {
            while let id = destination.waiting.popFirst() {
                guard let message = messages[id], !message.state.held else { continue }
                destination.probing = true
                destination.probeMessage = id
                destination.nextProbe = now + config.probeInterval
                unpark(message, at: destination.name, now: now)
                break
            }
        }
    }

    /// The earliest probe due, for the poll timeout.
    var nextProbeTime: Int? {
        destinations.values.filter { $0.isDown && !$0.probing && !$0.waiting.isEmpty }.map(\.nextProbe).min()
    }

    /// Makes the recipients parked at `name` due at `now`: those it parked, whatever the routes say today.
    private func unpark(_ message: QueuedMessage, at name: String, now: Int) {
        for (index, parkedAt) in message.parked where parkedAt == name {
            message.parked[index] = nil
            message.state.recipients[index].nextAttempt = now
        }
        schedule(message)
    }

    /// A flush (quail-qctl, SIGALRM, ETRN) for destination `name`: one marked down gets its probe at once, unless
    /// one is running, and the messages waiting there follow the moment it succeeds (`markUp`). A long outage
    /// still costs one connection per flush, never one per message.
    func probeNow(_ name: String, now: Int) {
        guard let destination = destinations[name] else { return }
        guard destination.isDown else { return release(name, now: now) }
        destination.nextProbe = min(destination.nextProbe, now)
    }

    /// After a reload: a parked recipient whose route now leads to another destination moves there, parked again
    /// when that one is down too, else due now. Left where it was, it would wait for the probe of a destination it
    /// no longer goes to.
    func resortParked() {
        let now = MailDate.now()
        for destination in Array(destinations.values) {
            var left: Set<QueueID> = []
            for id in destination.waiting {
                guard let message = messages[id] else { continue }
                var moved = false
                for (index, parkedAt) in message.parked where parkedAt == destination.name {
                    let name = config.destination(for: Address.domain(of: message.state.recipients[index].address))
                    guard name != parkedAt else { continue }
                    moved = true
                    if let next = destinations[name], next.isDown {
                        message.parked[index] = name
                        next.waiting.insert(id)
                        message.state.recipients[index].nextAttempt = max(next.nextProbe, now)
                    } else {
                        message.parked[index] = nil
                        message.state.recipients[index].nextAttempt = now
                    }
                }
                if moved {
                    save(message)
                    schedule(message)
                }
                if message.parked.values.contains(destination.name) { left.insert(id) }
            }
            destination.waiting = left
        }
    }

    /// Parked messages past `queuelifetime` fail now (and bounce) instead of waiting for a recovery that may
    /// not come: parked recipients make no attempts, so no deferral would ever notice their age.
    private func expireParked(at destination: Destination, now: Int) {
        for id in destination.waiting {
            guard let message = messages[id], !message.state.held, now >= message.state.birth + config.queueLifetime,
                message.inFlight.isEmpty
            else { continue }
            destination.waiting.remove(id)
            for index in message.parked.keys {
                message.state.recipients[index].status = .failed
                message.state.recipients[index].lastError =
                    "I'm not going to try again; this message has been in the queue too long. Last error: \(message.state.recipients[index].lastError)"
            }
            message.parked.removeAll()
            settle(message)
        }
    }
}
