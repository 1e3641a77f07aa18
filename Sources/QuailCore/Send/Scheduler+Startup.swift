import Glibc

extension Scheduler {
    /// Rebuilds the whole schedule from the spool, so the queue survives restarts and upgrades.
    /// False when a SIGTERM came while waiting for the spool lock.
    func startUp() throws(SchedulerError) -> Bool {
        do { try layout.create() } catch { throw .system("cannot prepare \(layout.root)", error) }
        guard try takeSpoolLock() else { return false }
        removeStatuses()
        let now = MailDate.now()
        do {
            let debris = try store.removeInjectionDebris(now: now)
            if debris > 0 { Diagnostics.log("status: removed \(debris) unfinished injections from tmp/") }
        } catch { throw .system("cannot prepare \(layout.root)", error) }
        // Per bucket, one listing of mess/ and one of state/ with each record's mtime serve both the orphan check
        // and the order of reading; the records themselves are read by the loop, a slice per turn (`readBacklog`).
        var unread: [(work: Int, id: QueueID)] = []
        var orphans = 0
        for bucket in 0..<QueueLayout.split {
            let ids: [QueueID]
            let records: StateListing
            do {
                ids = try store.messIDs(bucket: bucket)
                records = try store.stateRecords(bucket: bucket)
            } catch { throw .system("cannot list the queue in \(layout.root)", error) }
            do { orphans += try store.removeOrphanStates(bucket: bucket, records: records, takenIn: Set(ids)) } catch {
                throw .system("cannot prepare \(layout.root)", error)
            }
            // No record yet: taken in, never tried, due now.
            for id in ids { unread.append((records.nextWork[id] ?? now, id)) }
        }
        if orphans > 0 { Diagnostics.log("status: removed \(orphans) state records of finished messages") }
        messages.reserveCapacity(unread.count)
        timers.reserveCapacity(unread.count)
        backlog = Backlog(unread, now: now)
        if !backlog.isEmpty { Diagnostics.log("status: \(backlog.total) queued messages; reading their state, the earliest due first") }
        try openFIFOs()
        scanTodo()
        return true
    }

    /// Takes `QueueLock` before reading anything of the spool. A quail-qctl editing the spool holds it for a
    /// moment; a second quail-send on the same queue holds it for good, and this one waits rather than deliver
    /// the same messages twice.
    private func takeSpoolLock() throws(SchedulerError) -> Bool {
        var said = false
        let lock: QueueLock? = try waitForLock {
            if !said { SendLog.warning("waiting for the queue lock \(layout.sendLock) (quail-qctl at work, or another quail-send)") }
            said = true
            var watched = pollfd(fd: signals.readEnd, events: Int16(POLLIN), revents: 0)
            guard poll(&watched, 1, 200) > 0 else { return true }
            return !signals.drain().contains { $0 == SIGTERM || $0 == SIGINT }
        }
        guard let lock else { return false }
        spoolLock = consume lock
        return true
    }

    private func waitForLock(pause: () -> Bool) throws(SchedulerError) -> QueueLock? {
        do { return try QueueLock.wait(layout, pause: pause) } catch { throw .system("cannot lock \(layout.sendLock)", error) }
    }

    func loadTakenIn(_ id: QueueID, with loader: StateLoader? = nil) {
        do {
            guard let state = try store.load(id, path: layout.messPath(id), with: loader) else { return }
            add(QueuedMessage(id: id, state: state))
        } catch {
            reportDamaged(id, error)
        }
    }

    /// Takes in every message committed to `todo/` since the last look.
    func scanTodo() {
        let ids: [QueueID]
        do { ids = try store.todoIDs() } catch {
            SendLog.alert("cannot list \(layout.todo): \(error)")
            return
        }
        for id in ids where messages[id] == nil && !damaged.contains(id) {
            takeIn(id)
        }
    }

    private func takeIn(_ id: QueueID) {
        let spool: SpoolFile
        do {
            guard let read = try SpoolFile.read(layout.todoPath(id)) else { return }
            spool = read
        } catch {
            reportDamaged(id, error)
            return
        }
        do { try store.takeIn(id) } catch {
            SendLog.alert("cannot move message \(id) out of todo/: \(error)")
            return
        }
        // The first message line, for the log's qp and uid, came with the envelope.
        let origin = SendLog.queueOrigin(ofMessageStart: spool.messageHead)
        SendLog.newMessage(id)
        SendLog.info(id, bytes: spool.messageBytes, sender: spool.envelope.sender, qp: origin?.qp ?? id, uid: origin?.uid ?? spool.owner)
        let state = MessageState(birth: spool.written, bytes: spool.messageBytes, offset: spool.messageOffset, envelope: spool.envelope)
        add(QueuedMessage(id: id, state: state))
    }

    private func add(_ message: QueuedMessage) {
        messages[message.id] = message
        if message.state.isFinished {
            finish(message)
        } else if message.hasUnbouncedFailures {
            // A delete with --bounce done by quail-qctl while quail-send was stopped: the bounce goes now.
            settle(message)
        } else {
            schedule(message)
        }
    }

    private func reportDamaged(_ id: QueueID, _ error: SpoolError) {
        damaged.insert(id)
        SendLog.alert("\(error); message \(id) left in place for the administrator")
    }
}
