import Glibc

/// quail-qctl: carries out one queue operation, whether or not quail-send runs. Postfix: postqueue, postsuper.
///
/// The spool belongs to whoever holds `QueueLock`. When quail-qctl gets it, quail-send is not running (and
/// waits for it if it starts now), so quail-qctl edits the spool itself (`QueueEditor`). When the lock is busy,
/// quail-send runs: the request goes to it as one line on `lock/control`, and quail-qctl watches the spool until
/// the effect shows (the message's files gone, the state record saying held), so its answer is the truth and
/// not a hope. Should quail-send exit meanwhile, the lock comes free and quail-qctl finishes the job itself.
public struct QueueControl {
    let layout: QueueLayout
    let store: QueueStore

    /// How often the spool and the lock are looked at while waiting.
    static let pollMilliseconds: UInt32 = 50

    public init(layout: QueueLayout) {
        self.layout = layout
        store = QueueStore(layout: layout)
    }

    /// Runs `command`; returns what to print on success.
    public func run(_ command: QueueControlCommand) throws(QueueControlError) -> String {
        guard ((try? FileIO.status(layout.lock)) ?? nil) != nil else { throw .temporary("no queue at \(layout.root)") }
        let plan = try Plan(command.request, store: store)
        if let nothing = plan.nothingToDo { return nothing }
        let deadline = MailDate.now() + command.timeout
        var sent = false
        while true {
            if sent, let done = try plan.effectVisible(store) { return done }
            if let lock = try attemptLock() {
                let result: Result<String, QueueControlError>
                do { result = .success(try QueueEditor(store: store).perform(plan)) } catch { result = .failure(error) }
                lock.release()
                return try result.get()
            }
            if !sent {
                sent = QueueTrigger.sendControl(layout, command.request.line)
                if sent, let text = plan.doneOnceSent { return text }
            }
            if MailDate.now() >= deadline { throw .temporary(plan.timedOut(after: command.timeout, sent: sent, store)) }
            usleep(QueueControl.pollMilliseconds * 1000)
        }
    }

    private func attemptLock() throws(QueueControlError) -> QueueLock? {
        do { return try QueueLock.attempt(layout) } catch { throw .temporary("cannot open \(layout.sendLock): \(error)") }
    }
}

/// A request with what quail-qctl learnt about it before acting: which messages it concerns.
struct Plan {
    let request: QueueControlRequest
    /// For a delete by domain or sender: the messages that had selected recipients when quail-qctl looked.
    let snapshot: [QueueID]
    /// Set when there is nothing to do, with the answer to print.
    let nothingToDo: String?

    init(_ request: QueueControlRequest, store: QueueStore) throws(QueueControlError) {
        self.request = request
        var snapshot: [QueueID] = []
        var nothingToDo: String?
        switch request {
        case .hold(let id), .delete(.message(let id), _):
            guard store.isQueued(id) else { throw .unknownID(id) }
        case .release(let id):
            guard store.isQueued(id) else { throw .unknownID(id) }
            if store.state(id)?.held != true { nothingToDo = "msg #\(id): not held" }
        case .delete(let selection, _):
            let report: QueueReport
            do { report = try QueueReport(layout: store.layout) } catch { throw .temporary("cannot read the queue: \(error)") }
            snapshot = report.entries.filter { !selection.recipients(of: $0.state, id: $0.id).isEmpty }.map(\.id)
            if snapshot.isEmpty { nothingToDo = "nothing to delete: no message has a pending recipient that matches" }
        case .flush, .etrn, .requeue:
            break
        }
        self.snapshot = snapshot
        self.nothingToDo = nothingToDo
    }

    /// For requests whose effect quail-send shows nowhere in the spool, the answer once the line is sent.
    var doneOnceSent: String? {
        switch request {
        case .flush(nil): "flush: sent to quail-send; every waiting message is due now"
        case .flush(let domain?): "flush \(domain): sent to quail-send; its waiting messages are due now"
        case .requeue: "requeue: sent to quail-send; control files reread, down marks cleared, every waiting message due now"
        default: nil
        }
    }

    /// The answer once quail-send's work shows in the spool; `nil` while it does not yet.
    func effectVisible(_ store: QueueStore) throws(QueueControlError) -> String? {
        switch request {
        case .hold(let id):
            guard store.isQueued(id) else { throw .unknownID(id) }
            return store.state(id)?.held == true ? "msg #\(id): held" : nil
        case .release(let id):
            guard store.isQueued(id) else { return "msg #\(id): released (and since gone from the queue)" }
            return store.state(id)?.held == false ? "msg #\(id): released" : nil
        case .delete(.message(let id), let bounce):
            return store.isQueued(id) ? nil : "msg #\(id): deleted" + (bounce ? ", bounce queued" : "")
        case .delete(let selection, let bounce):
            guard snapshot.allSatisfy({ !store.isQueued($0) || selection.recipients(of: store.state($0) ?? store.envelopeState($0), id: $0).isEmpty })
            else { return nil }
            return "deleted the matching recipients of \(messageCount(snapshot.count))" + (bounce ? ", bounces queued" : "")
        case .flush, .etrn, .requeue:
            return nil
        }
    }

    /// Why waiting ended without the effect, as precisely as the spool tells.
    func timedOut(after seconds: Int, sent: Bool, _ store: QueueStore) -> String {
        guard sent else {
            return "timed out after \(seconds)s: quail-send holds the queue lock but does not read \(store.layout.controlFIFO) (still starting?); nothing was done"
        }
        if case .delete(.message(let id), _) = request, let state = store.state(id), state.recipients.allSatisfy({ $0.status != .pending }) {
            return "timed out after \(seconds)s: quail-send took the delete of msg #\(id), but a delivery of it is still running; the delete takes effect when it ends"
        }
        return "timed out after \(seconds)s waiting for quail-send to carry out \"\(request.line)\"; it may still do so"
    }
}

extension QueueStore {
    /// Whether message `id` is in the queue, taken in or not.
    func isQueued(_ id: QueueID) -> Bool {
        ((try? FileIO.status(layout.messPath(id))) ?? nil) != nil || ((try? FileIO.status(layout.todoPath(id))) ?? nil) != nil
    }

    /// The state record of `id`, `nil` when there is none (never tried, not taken in, or gone).
    func state(_ id: QueueID) -> MessageState? {
        (try? FileIO.readFile(layout.statePath(id), keepingAccessTime: true)).flatMap { $0 }.flatMap(MessageState.init(decoding:))
    }

    /// The state of a message without a record, rebuilt from its envelope wherever the file is.
    func envelopeState(_ id: QueueID) -> MessageState {
        for path in [layout.messPath(id), layout.todoPath(id)] {
            if let spool = (try? SpoolFile.read(path)) ?? nil {
                return MessageState(birth: spool.written, bytes: spool.messageBytes, offset: spool.messageOffset, envelope: spool.envelope)
            }
        }
        return MessageState(birth: 0, bytes: 0, offset: 0, envelope: Envelope(sender: "", recipients: []))
    }
}

/// "1 message", "3 messages".
func messageCount(_ count: Int) -> String { count == 1 ? "1 message" : "\(count) messages" }
