import Glibc

/// The spool operations of quail-send and the queue tools, on top of `QueueLayout`.
public struct QueueStore: Sendable {
    public let layout: QueueLayout

    public init(layout: QueueLayout) { self.layout = layout }

    /// Ids of committed messages quail-send has not yet taken in.
    public func todoIDs() throws(Errno) -> [QueueID] {
        try FileIO.listDirectory(layout.todo).compactMap { QueueID($0) }
    }

    /// Ids of taken-in messages in one `mess/` bucket.
    public func messIDs(bucket: QueueID) throws(Errno) -> [QueueID] {
        try FileIO.listDirectory(layout.messDirectory(bucket)).compactMap { QueueID($0) }
    }

    /// Moves a new message from `todo/` into `mess/H/`. Not synced: a lost rename only means it is taken in again.
    public func takeIn(_ id: QueueID) throws(Errno) {
        try FileIO.rename(layout.todoPath(id), layout.messPath(id))
    }

    /// The state of message `id` at `path`: its record when one is readable, else rebuilt from the envelope.
    /// `nil` when the message file is gone.
    public func load(_ id: QueueID, path: String) throws(SpoolError) -> MessageState? {
        if let bytes = try? FileIO.readFile(layout.statePath(id)), let state = MessageState(decoding: bytes) {
            return state
        }
        guard let spool = try SpoolFile.read(path) else { return nil }
        return MessageState(birth: spool.written, bytes: spool.messageBytes, offset: spool.messageOffset, envelope: spool.envelope)
    }

    /// Replaces the state record of `id` by write-then-rename.
    public func save(_ id: QueueID, _ state: MessageState) throws(Errno) {
        let path = layout.statePath(id)
        let scratch = FileIO.directoryName(of: path) + "/.new.\(getpid())"
        // No fsync: a record lost to a crash only repeats deliveries; the envelope still says what is owed.
        try FileIO.replaceDurably(path, with: state.encoded, temporary: scratch, syncing: false)
    }

    /// Removes a finished message: the spool file first, so that `mess/` never lists a message already done.
    public func remove(_ id: QueueID) throws(Errno) {
        try FileIO.unlinkIfPresent(layout.messPath(id))
        try FileIO.unlinkIfPresent(layout.statePath(id))
    }

    /// Removes state records whose message is gone (debris of a crash during `remove`), before an inode,
    /// and with it a queue id, can be reused.
    public func removeOrphanStates() throws(Errno) -> Int {
        var removed = 0
        for bucket in 0..<QueueLayout.split {
            for name in try FileIO.listDirectory(layout.stateDirectory(bucket)) {
                let path = layout.stateDirectory(bucket) + "/" + name
                guard let id = QueueID(name) else {
                    if name.hasPrefix(".new.") { try FileIO.unlinkIfPresent(path) }
                    continue
                }
                // Only a taken-in message ever has a record, so one beside a todo/ file is debris too.
                if try FileIO.status(layout.messPath(id)) == nil {
                    try FileIO.unlinkIfPresent(path)
                    removed += 1
                }
            }
        }
        return removed
    }

    /// Removes `tmp/` files of injections that can no longer finish: their writer is dead, or they are
    /// older than `QueueTiming.ossified`. Names are `PID.TIME.N`.
    public func removeInjectionDebris(now: Int) throws(Errno) -> Int {
        var removed = 0
        for name in try FileIO.listDirectory(layout.tmp) {
            let path = layout.tmp + "/" + name
            let fields = name.split(separator: ".")
            let writer = fields.first.flatMap { pid_t($0) }
            let writerAlive = writer.map { kill($0, 0) == 0 || errno == EPERM } ?? false
            let age = now - ((try FileIO.status(path)).map { Int($0.st_mtim.tv_sec) } ?? now)
            if !writerAlive || age > QueueTiming.ossified {
                try FileIO.unlinkIfPresent(path)
                removed += 1
            }
        }
        return removed
    }
}
