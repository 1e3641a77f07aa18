import Glibc

extension Scheduler {
    /// How soon a bounce that could not be queued (disk full) is tried again.
    static let bounceRetryDelay = 60
    /// How much of the original message a bounce can return: 50 KB plus room to end at a line.
    static let bounceOriginalLimit = 51_200 + 4096

    /// Applies one delivery's results; once nothing of the message is in flight, settles it.
    /// With `parkingUntil`, deferred recipients are parked at `destination` until it recovers.
    func record(_ results: [DeliveryResult], for indices: [Int], of message: QueuedMessage,
                parkingUntil: Int? = nil, at destination: String? = nil, remoteHost: String = "") {
        let now = MailDate.now()
        for (index, result) in zip(indices, results) {
            message.inFlight.remove(index)
            var recipient = message.state.recipients[index]
            recipient.attempts += 1
            recipient.remoteHost = remoteHost
            recipient.lastAttempt = now
            // Deleted by quail-qctl while this delivery ran: the delete stands unless the delivery succeeded.
            if recipient.status != .pending {
                if case .delivered = result { recipient.status = .delivered }
                message.state.recipients[index] = recipient
                continue
            }
            switch result {
            case .delivered:
                recipient.status = .delivered
                recipient.lastError = ""
            case .failed(let text):
                recipient.status = .failed
                recipient.lastError = text
            case .deferred(let text):
                recipient.lastError = text
                if now >= message.state.birth + config.queueLifetime {
                    recipient.status = .failed
                    recipient.lastError = "I'm not going to try again; this message has been in the queue too long. Last error: \(text)"
                } else if let parkingUntil, let destination {
                    if config.destination(for: Address.domain(of: recipient.address)) == destination {
                        // quail-qread shows the next probe as the next attempt: that is when it will be tried.
                        recipient.nextAttempt = parkingUntil
                        message.parked[index] = destination
                        destinations[destination]?.waiting.insert(message.id)
                    } else {
                        // A reload routed it elsewhere while this delivery ran: this failure says nothing of the new route.
                        recipient.nextAttempt = now
                    }
                } else {
                    recipient.nextAttempt = config.retrySchedule.nextAttempt(
                        birth: message.state.birth, now: now, attempts: recipient.attempts, remote: !config.isLocal(recipient.address))
                }
            }
            recipient.lastError = MessageState.Recipient.storedError(recipient.lastError)
            message.state.recipients[index] = recipient
        }
        if message.inFlight.isEmpty {
            settle(message)
        } else if results.contains(where: { if case .deferred = $0 { false } else { true } }) {
            // Other deliveries of this message still run or wait for a slot: record the final results now, so
            // that a crash before they end repeats none of these deliveries (DESIGN.md: at least once, and
            // a repeat only of the delivery whose record a crash cut off).
            save(message)
        }
    }

    /// With nothing in flight: bounces new failures, then removes a finished message or saves its state.
    func settle(_ message: QueuedMessage) {
        if message.hasUnbouncedFailures { bounceFailures(of: message) }
        if message.state.isFinished {
            finish(message)
            return
        }
        save(message)
        schedule(message)
    }

    /// Replaces the message's state record (write, then rename; not fsynced: losing it repeats deliveries,
    /// it loses none).
    func save(_ message: QueuedMessage) {
        do { try store.save(message.id, message.state) } catch {
            SendLog.warning("cannot save the state of message \(message.id): \(error); it may be delivered again")
        }
    }

    /// Removes a message whose every recipient is delivered or bounced.
    func finish(_ message: QueuedMessage) {
        do { try store.remove(message.id) } catch {
            SendLog.alert("cannot remove message \(message.id): \(error)")
        }
        messages[message.id] = nil
        SendLog.end(message.id)
    }

    /// Puts the message on the timer heap for its earliest waiting recipient (or a bounce retry).
    func schedule(_ message: QueuedMessage) {
        var due = message.waitingRecipients.map { message.state.recipients[$0].nextAttempt }.min()
        if message.inFlight.isEmpty && message.hasUnbouncedFailures {
            due = min(due ?? Int.max, MailDate.now() + Scheduler.bounceRetryDelay)
        }
        guard let due else { return }
        if let current = message.scheduledDue, current <= due { return }
        message.scheduledDue = due
        timers.push(due, message.id)
    }

    /// Queues one RFC 3464 report for every recipient that failed since the last one.
    private func bounceFailures(of message: QueuedMessage) {
        let failed = message.state.recipients.indices.filter { message.state.recipients[$0].status == .failed }
        guard let envelope = Bounce.envelope(originalSender: message.state.sender, doubleBounceTo: config.doubleBounceTo, me: config.me) else {
            SendLog.warning("triple bounce: discarding the failure report for message \(message.id)")
            for index in failed { message.state.recipients[index].status = .bounced }
            return
        }
        let original: [UInt8]
        do {
            original = try SpoolFile.messagePrefix(layout.messPath(message.id), offset: message.state.offset, limit: Scheduler.bounceOriginalLimit)
        } catch {
            SendLog.warning("cannot read message \(message.id) for its bounce: \(error)")
            return
        }
        let failures = failed.map { index in
            let recipient = message.state.recipients[index]
            return FailedRecipient(address: recipient.address, diagnostic: recipient.lastError,
                                   remoteHost: recipient.remoteHost.isEmpty ? nil : recipient.remoteHost)
        }
        let report = Bounce.message(original: original, originalSender: message.state.sender, failures: failures,
                                    arrival: message.state.birth, now: MailDate.now(), me: config.me,
                                    from: "\(config.bounceFrom)@\(config.bounceHost)", to: envelope.recipients[0])
        do {
            let bounceID = try QueueWriter(layout: layout).inject(message: report, envelope: envelope)
            SendLog.bounce(message.id, bounceID: bounceID)
            for index in failed { message.state.recipients[index].status = .bounced }
        } catch {
            SendLog.warning("cannot queue the bounce for message \(message.id): \(error); trying again later")
        }
    }

    /// SIGALRM and `flush`: every waiting recipient is due now; those parked behind a destination marked down
    /// follow its probe, which runs at once (`probeNow`).
    func makeEverythingDue() {
        let now = MailDate.now()
        if !backlog.isEmpty { backlog.flushEverything = true }
        for name in Array(destinations.keys) { probeNow(name, now: now) }
        for message in messages.values { makeDue(message, now: now) { _ in true } }
    }

    /// `flush DOMAIN` (ETRN, quail-qctl): the waiting recipients at that domain are due now; parked ones follow
    /// their destination's probe, which runs at once.
    func flush(domain: String) {
        let now = MailDate.now()
        let wanted = Address.normalizedDomain(domain)
        if !backlog.isEmpty { backlog.flushedDomains.insert(wanted) }
        probeNow(config.destination(for: wanted), now: now)
        for message in messages.values { makeDue(message, now: now) { Address.domain(of: $0) == wanted } }
    }

    func makeDue(_ message: QueuedMessage, now: Int, where matches: (String) -> Bool) {
        // A held message makes no attempts, flush or not, until quail-qctl releases it.
        guard !message.state.held else { return }
        var changed = false
        for index in message.waitingRecipients where matches(message.state.recipients[index].address) {
            message.state.recipients[index].nextAttempt = now
            changed = true
        }
        if changed { schedule(message) }
    }
}
