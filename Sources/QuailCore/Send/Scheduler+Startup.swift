import Glibc

extension Scheduler {
    /// Rebuilds the whole schedule from the spool, so the queue survives restarts and upgrades.
    func startUp() throws(SchedulerError) {
        let now = MailDate.now()
        do {
            try layout.create()
            let debris = try store.removeInjectionDebris(now: now)
            if debris > 0 { Diagnostics.log("status: removed \(debris) unfinished injections from tmp/") }
            let orphans = try store.removeOrphanStates()
            if orphans > 0 { Diagnostics.log("status: removed \(orphans) state records of finished messages") }
        } catch { throw .system("cannot prepare \(layout.root)", error) }
        for bucket in 0..<QueueLayout.split {
            let ids: [QueueID]
            do { ids = try store.messIDs(bucket: bucket) } catch { throw .system("cannot list \(layout.messDirectory(bucket))", error) }
            for id in ids { loadTakenIn(id) }
        }
        try openFIFOs()
        scanTodo()
    }

    private func loadTakenIn(_ id: QueueID) {
        do {
            guard let state = try store.load(id, path: layout.messPath(id)) else { return }
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
        SendLog.newMessage(id)
        SendLog.info(id, bytes: spool.messageBytes, sender: spool.envelope.sender, uid: spool.owner)
        let state = MessageState(birth: spool.written, bytes: spool.messageBytes, offset: spool.messageOffset, envelope: spool.envelope)
        add(QueuedMessage(id: id, state: state))
    }

    private func add(_ message: QueuedMessage) {
        messages[message.id] = message
        if message.state.isFinished {
            finish(message)
        } else {
            schedule(message)
        }
    }

    private func reportDamaged(_ id: QueueID, _ error: SpoolError) {
        damaged.insert(id)
        SendLog.alert("\(error); message \(id) left in place for the administrator")
    }
}
