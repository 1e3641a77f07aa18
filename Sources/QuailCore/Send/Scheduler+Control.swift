/// Requests from quail-qctl and quail-smtpd's ETRN on `queue/lock/control`, carried out by quail-send itself so
/// that nobody edits the spool under its feet. Each change that quail-qctl waits for is saved to the state
/// record at once: that is how it sees the request done.
extension Scheduler {
    /// One request per line.
    func handleControl(_ text: String) {
        for line in text.split(separator: "\n") {
            guard let request = QueueControlRequest(line: line) else {
                SendLog.warning("unknown control request: \(line)")
                continue
            }
            switch request {
            case .flush(nil):
                Diagnostics.log("info: flush requested")
                makeEverythingDue()
            case .flush(let domain?):
                Diagnostics.log("info: flush of \(domain) requested")
                flush(domain: domain)
            case .etrn(let domain): etrn(domain)
            case .hold(let id): hold(id)
            case .release(let id): release(id)
            case .delete(let selection, let bounce): delete(selection, bounce: bounce)
            case .requeue: requeue()
            }
        }
    }

    /// A flush of `domain` unless an ETRN flushed its destination less than a probe interval ago: any client may
    /// send ETRN, and a flush of a destination that is down costs a probe (DESIGN.md, ETRN).
    private func etrn(_ domain: String) {
        let now = MailDate.now()
        let destination = config.destination(for: Address.normalizedDomain(domain))
        etrnFlushes = etrnFlushes.filter { now - $0.value < config.probeInterval }
        if let last = etrnFlushes[destination] {
            Diagnostics.log("info: ETRN for \(domain) ignored: \(destination) was flushed by ETRN \(now - last)s ago")
            return
        }
        etrnFlushes[destination] = now
        Diagnostics.log("info: flush of \(domain) requested by ETRN")
        flush(domain: domain)
    }

    /// The message, taking in `todo/` first: quail-qctl may name a message quail-send has not seen yet, or one
    /// whose state it has not read yet.
    private func message(_ id: QueueID) -> QueuedMessage? {
        if messages[id] == nil { scanTodo() }
        if messages[id] == nil && !backlog.isEmpty { readUnread(id) }
        guard let message = messages[id] else {
            SendLog.warning("control request for message \(id), which is not in the queue")
            return nil
        }
        return message
    }

    /// No attempts until released; a delivery running now finishes and its result is recorded as usual.
    private func hold(_ id: QueueID) {
        guard let message = message(id) else { return }
        message.state.held = true
        withdrawQueuedTasks(of: [id])
        save(message)
        Diagnostics.log("qctl msg \(id): held")
        schedule(message)
    }

    /// Due again now; recipients parked behind a down destination are unparked, and park again (or probe) when
    /// they come due, as a fresh message would.
    private func release(_ id: QueueID) {
        guard let message = message(id) else { return }
        message.state.held = false
        let now = MailDate.now()
        for destination in destinations.values { destination.waiting.remove(id) }
        message.parked.removeAll()
        for index in message.waitingRecipients { message.state.recipients[index].nextAttempt = now }
        save(message)
        Diagnostics.log("qctl msg \(id): released")
        schedule(message)
    }

    /// Drops the selected pending recipients. Those in a delivery running now are marked at once and saved, and
    /// `record` keeps the mark unless that delivery succeeds: then the message was delivered (once), not lost.
    private func delete(_ selection: QueueSelection, bounce: Bool) {
        if case .message(let id) = selection, damaged.contains(id) {
            // An envelope that does not parse was left for the administrator; deleting it is their answer.
            try? FileIO.unlinkIfPresent(layout.todoPath(id))
            try? store.remove(id)
            damaged.remove(id)
            Diagnostics.log("qctl msg \(id): deleted")
            return
        }
        scanTodo()
        if case .message = selection {} else { readWholeBacklog() }
        let all: [QueuedMessage]
        if case .message(let id) = selection { all = message(id).map { [$0] } ?? [] } else { all = Array(messages.values) }
        let candidates = all.filter { !selection.recipients(of: $0.state, id: $0.id).isEmpty }
        withdrawQueuedTasks(of: Set(candidates.map(\.id)))
        for message in candidates {
            let indices = selection.recipients(of: message.state, id: message.id)
            let whole = indices.count == message.state.recipients.filter({ $0.status == .pending }).count
            message.state.delete(indices, bounce: bounce)
            for index in indices { message.parked[index] = nil }
            let isRunning = workers.values.contains { worker in
                worker.delivery.map { $0.id == message.id && !Set($0.recipients).isDisjoint(with: indices) } ?? false
            }
            let addresses = whole ? "" : " for " + indices.map { message.state.recipients[$0].address }.joined(separator: ",")
            Diagnostics.log("qctl msg \(message.id): deleted\(addresses)\(bounce ? ", bouncing" : "")"
                            + (isRunning ? " once its running delivery ends" : ""))
            if message.inFlight.isEmpty {
                settle(message)
            } else {
                save(message)
                schedule(message)
            }
        }
    }

    /// Takes the tasks of `ids` that wait for a delivery slot out of the ready queues, so their recipients wait
    /// again as if never queued (and are scheduled again by whoever called). Deliveries already running are left
    /// alone: their results come back through `record`. Without this, a held or deleted message would keep its
    /// place in the queue until a slot freed, and quail-qctl would wait for a busy destination to finish.
    private func withdrawQueuedTasks(of ids: Set<QueueID>) {
        guard !ids.isEmpty else { return }
        for channel in [Channel.local, .remote] {
            var kept = FIFO<DeliveryTask>()
            while let task = ready[channel]!.popFirst() {
                guard ids.contains(task.id), let message = messages[task.id] else {
                    kept.append(task)
                    continue
                }
                for index in task.recipients { message.inFlight.remove(index) }
                // A probe that will not run must not keep its destination from probing again.
                let domain = Address.domain(of: message.state.recipients[task.recipients[0]].address)
                if channel == .remote, let destination = destinations[config.destination(for: domain)], destination.probeMessage == task.id {
                    destination.probing = false
                    destination.probeMessage = nil
                }
            }
            ready[channel] = kept
        }
    }

    /// Postfix's `postsuper -r ALL` for quail: control files reread, every down mark and probe forgotten, every
    /// waiting recipient due now; each delivery then decides local or remote, and its route, afresh.
    private func requeue() {
        scanTodo()
        readWholeBacklog()
        reloadControl()
        let now = MailDate.now()
        for name in Array(destinations.keys) { release(name, now: now) }
        makeEverythingDue()
        // Every destination is released; a probe still running reports to no one, harmlessly.
        destinations.removeAll()
        Diagnostics.log("qctl: requeue: every waiting message is due now")
    }
}
