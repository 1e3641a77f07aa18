/// quail-qctl's direct work on the spool, done only while it holds `QueueLock` (so quail-send is not running).
/// Every change is a state record replaced by write-then-rename, or a message removed as quail-send removes
/// one (`QueueStore.remove`); quail-send reads the result when it starts.
struct QueueEditor {
    let store: QueueStore
    var layout: QueueLayout { store.layout }

    func perform(_ plan: Plan) throws(QueueControlError) -> String {
        let now = MailDate.now()
        switch plan.request {
        case .hold(let id):
            try edit(id) { $0.held = true }
            return "msg #\(id): held (quail-send is not running)"
        case .release(let id):
            try edit(id) { state in
                state.held = false
                for index in state.recipients.indices where state.recipients[index].status == .pending { state.recipients[index].nextAttempt = now }
            }
            return "msg #\(id): released (quail-send is not running; it is due when quail-send starts)"
        case .delete(let selection, let bounce):
            let ids: [QueueID]
            if case .message(let id) = selection { ids = [id] } else { ids = plan.snapshot }
            var count = 0
            for id in ids where try delete(selection, from: id, bounce: bounce) { count += 1 }
            let bounces = bounce ? "; quail-send queues the bounces when it starts" : ""
            if case .message(let id) = selection { return "msg #\(id): deleted" + bounces }
            return "deleted the matching recipients of \(messageCount(count))" + bounces
        case .flush(let domain):
            let count = try makeDue(now) { domain == nil || Address.domain(of: $0) == domain }
            return "quail-send is not running: \(messageCount(count)) due as soon as it starts"
        case .etrn:
            preconditionFailure("quail-qctl makes no ETRN request; quail-smtpd sends them to quail-send only")
        case .requeue:
            let count = try makeDue(now) { _ in true }
            return "quail-send is not running: \(messageCount(count)) due as soon as it starts, routed by the control files it reads then"
        }
    }

    /// Changes the state of `id` and saves it, taking the message in from `todo/` first (only a taken-in
    /// message has a record; quail-send removes one beside a `todo/` file as debris).
    private func edit(_ id: QueueID, _ change: (inout MessageState) -> Void) throws(QueueControlError) {
        var state = try load(id)
        change(&state)
        do {
            if try FileIO.status(layout.messPath(id)) == nil { try store.takeIn(id) }
            try store.save(id, state)
        } catch { throw .temporary("cannot update message \(id): \(error)") }
    }

    /// Applies a delete to one message; true when it had recipients to delete.
    private func delete(_ selection: QueueSelection, from id: QueueID, bounce: Bool) throws(QueueControlError) -> Bool {
        guard store.isQueued(id) else { return false }
        var state: MessageState
        do { state = try load(id) } catch {
            // A message whose envelope does not parse can only be deleted whole: that is what the admin is for.
            guard case .message = selection, case .temporary = error else { throw error }
            try remove(id)
            return true
        }
        let indices = selection.recipients(of: state, id: id)
        guard !indices.isEmpty else { return false }
        state.delete(indices, bounce: bounce)
        if state.isFinished { try remove(id) } else { try edit(id) { $0 = state } }
        return true
    }

    private func remove(_ id: QueueID) throws(QueueControlError) {
        do {
            try FileIO.unlinkIfPresent(layout.todoPath(id))
            try store.remove(id)
        } catch { throw .temporary("cannot remove message \(id): \(error)") }
    }

    /// Makes every pending recipient at a matching address due at `now` (held messages stay held); returns how
    /// many messages changed. Messages still in `todo/` are due at take-in anyway.
    private func makeDue(_ now: Int, where matches: (String) -> Bool) throws(QueueControlError) -> Int {
        var count = 0
        for bucket in 0..<QueueLayout.split {
            let ids: [QueueID]
            do { ids = try store.messIDs(bucket: bucket) } catch { throw .temporary("cannot list \(layout.messDirectory(bucket)): \(error)") }
            for id in ids {
                guard var state = store.state(id), !state.held else { continue }
                let due = state.recipients.indices.filter { state.recipients[$0].status == .pending && matches(state.recipients[$0].address) }
                guard !due.isEmpty else { continue }
                for index in due { state.recipients[index].nextAttempt = now }
                do { try store.save(id, state) } catch { throw .temporary("cannot update message \(id): \(error)") }
                count += 1
            }
        }
        return count
    }

    /// The state of `id`: its record, else rebuilt from its spool file in `mess/` or `todo/`.
    private func load(_ id: QueueID) throws(QueueControlError) -> MessageState {
        let path = ((try? FileIO.status(layout.messPath(id))) ?? nil) != nil ? layout.messPath(id) : layout.todoPath(id)
        let loaded: MessageState?
        do { loaded = try store.load(id, path: path) } catch { throw .temporary("cannot read message \(id): \(error)") }
        guard let loaded else { throw .unknownID(id) }
        return loaded
    }
}
