import Glibc

/// The taken-in messages whose state record quail-send has not read yet. Start-up lists the spool and notes each
/// record's mtime (its message's next work, `MessageState.nextWork`), then the loop reads the records a short
/// slice per turn, the earliest work first, while it already takes in new mail and delivers. So a million queued
/// messages delay the first delivery by the listing, not by a million reads.
struct Backlog {
    /// (next work, id), the latest first: the next to read is at the end.
    private var entries: [(work: Int, id: QueueID)] = []
    let loader = StateLoader()
    let total: Int
    let started = Backlog.clock()
    /// A flush that came while messages were still unread, applied to each as it is read: `flush` and SIGALRM act
    /// on the whole queue, not on the part read so far.
    var flushEverything = false
    var flushedDomains: Set<String> = []

    /// How long one turn of the loop reads records before it looks at its children and FIFOs again.
    static let slice: UInt64 = 50_000_000

    init(_ entries: [(work: Int, id: QueueID)] = [], now: Int = 0) {
        // Messages due already are read in inode order, roughly the order of their records on disk.
        self.entries = entries.map { (max($0.work, now), $0.id) }
        self.entries.sort { ($0.work, $0.id) > ($1.work, $1.id) }
        total = entries.count
    }

    var isEmpty: Bool { entries.isEmpty }
    var remaining: Int { entries.count }

    mutating func next() -> QueueID? { entries.popLast()?.id }

    /// Nanoseconds on the monotonic clock.
    static func clock() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}

extension Scheduler {
    /// Reads unread state records for one slice of time; the loop calls it each turn until none is left.
    func readBacklog() {
        guard !backlog.isEmpty else { return }
        let deadline = Backlog.clock() + Backlog.slice
        var count = 0
        while let id = backlog.next() {
            readUnread(id)
            count += 1
            if count % 32 == 0 && Backlog.clock() >= deadline { break }
        }
        if backlog.isEmpty {
            let tenths = (Backlog.clock() - backlog.started) / 100_000_000
            Diagnostics.log("status: read the state of all \(backlog.total) queued messages in \(tenths / 10).\(tenths % 10)s")
            backlog = Backlog()
        }
    }

    /// Reads every unread record now: for the requests that select across the whole queue (delete by domain or
    /// sender, requeue).
    func readWholeBacklog() {
        while let id = backlog.next() { readUnread(id) }
        backlog = Backlog()
    }

    /// Reads one message out of the backlog, unless it is known already (read on demand, or a new message that
    /// reuses the inode of one that finished).
    func readUnread(_ id: QueueID) {
        guard messages[id] == nil, !damaged.contains(id) else { return }
        loadTakenIn(id, with: backlog.loader)
        guard let message = messages[id], backlog.flushEverything || !backlog.flushedDomains.isEmpty else { return }
        let now = MailDate.now()
        makeDue(message, now: now) { backlog.flushEverything || backlog.flushedDomains.contains(Address.domain(of: $0)) }
    }
}
