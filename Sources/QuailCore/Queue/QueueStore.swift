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
    /// `nil` when the message file is gone. `loader` (quail-send's start-up, many messages in a row) keeps one read
    /// buffer for every record and shares equal strings between them.
    public func load(_ id: QueueID, path: String, with loader: StateLoader? = nil) throws(SpoolError) -> MessageState? {
        let record = if let loader { loader.read(id, in: layout) } else { state(id) }
        if let record { return record }
        guard let spool = try SpoolFile.read(path) else { return nil }
        return MessageState(birth: spool.written, bytes: spool.messageBytes, offset: spool.messageOffset, envelope: spool.envelope)
    }

    /// Replaces the state record of `id` by write-then-rename; its mtime becomes the message's `nextWork`.
    public func save(_ id: QueueID, _ state: MessageState) throws(Errno) {
        let path = layout.statePath(id)
        let scratch = FileIO.directoryName(of: path) + "/.new.\(getpid())"
        // No fsync: a record lost to a crash only repeats deliveries; the envelope still says what is owed.
        try FileIO.replaceDurably(path, with: state.encoded, temporary: scratch, syncing: false,
                                  modified: state.nextWork(now: MailDate.now()))
    }

    /// Removes a finished message: the spool file first, so that `mess/` never lists a message already done.
    public func remove(_ id: QueueID) throws(Errno) {
        try FileIO.unlinkIfPresent(layout.messPath(id))
        try FileIO.unlinkIfPresent(layout.statePath(id))
    }

    /// The state records of bucket `bucket`: each message's id with the record's mtime, which is when the message
    /// next has work (`save`). A record written by anything else carries its write time, so it counts as due: the
    /// mtime only orders quail-send's start-up, the record itself decides. One listing and an `fstatat` per record:
    /// inodes, not the records' contents, so a cold cache costs a few large reads instead of one seek per message.
    public func stateRecords(bucket: QueueID) throws(Errno) -> StateListing {
        var listing = StateListing()
        try FileIO.forEachEntry(in: layout.stateDirectory(bucket)) { name, directory in
            guard let id = QueueID(name) else {
                if name.hasPrefix(".new.") { listing.scratch.append(name) }
                return
            }
            var info = stat()
            // Gone since the listing: only a quail-qctl racing us could do that, and the message decides anyway.
            if fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 { listing.nextWork[id] = info.st_mtim.tv_sec }
        }
        return listing
    }

    /// Removes the state records in bucket `bucket` whose message is gone (debris of a crash during `remove`),
    /// before an inode, and with it a queue id, can be reused, and the scratch files of an interrupted `save`.
    /// `records` is the bucket's listing, `takenIn` its `mess/` listing. Only the spool's owner may call this, so
    /// that `mess/` cannot change between the listing and the removal.
    public func removeOrphanStates(bucket: QueueID, records: StateListing, takenIn: Set<QueueID>) throws(Errno) -> Int {
        for name in records.scratch {
            try FileIO.unlinkIfPresent(layout.stateDirectory(bucket) + "/" + name)
        }
        var removed = 0
        // Only a taken-in message ever has a record, so one beside a todo/ file is debris too.
        for id in records.nextWork.keys where !takenIn.contains(id) {
            try FileIO.unlinkIfPresent(layout.statePath(id))
            removed += 1
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

/// One `state/H/` directory as `QueueStore.stateRecords` found it.
public struct StateListing: Sendable {
    /// Each record's mtime: when its message next has work.
    public var nextWork: [QueueID: Int] = [:]
    /// Scratch files (`.new.PID`) left by a `save` that did not finish.
    public var scratch: [String] = []
}

/// Reads state records one after another with one buffer, and shares equal strings between the records it
/// returns (`StringInterner`). For quail-send's start-up, which reads one record per queued message, in the order
/// they come due, so from every bucket in turn: each is opened relative to its `state/H/` directory, all of which
/// stay open, so the kernel walks one path component per record, not six.
public final class StateLoader {
    public let strings = StringInterner()
    private var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)
    /// The open `state/H/` directories by bucket; -1 where not opened yet.
    private var directories = [Int32](repeating: -1, count: Int(QueueLayout.split))

    public init() {}

    deinit {
        buffer.deallocate()
        for fd in directories where fd >= 0 { close(fd) }
    }

    /// The record of message `id`; `nil` when it is missing, unreadable or damaged (the envelope then decides).
    func read(_ id: QueueID, in layout: QueueLayout) -> MessageState? {
        let bucket = Int(id % QueueLayout.split)
        if directories[bucket] < 0 {
            guard let fd = try? FileIO.open(layout.stateDirectory(QueueID(bucket)), O_RDONLY | O_DIRECTORY | O_CLOEXEC) else { return nil }
            directories[bucket] = fd
        }
        let directory = directories[bucket]
        let opened = Self.decimalName(of: id) { name in try? FileIO.openForReading(name, in: directory, keepingAccessTime: true) }
        guard let fd = opened else { return nil }
        defer { close(fd) }
        var filled = 0
        while true {
            if filled == buffer.count {
                let larger = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count * 2, alignment: 1)
                larger.copyMemory(from: UnsafeRawBufferPointer(buffer))
                buffer.deallocate()
                buffer = larger
            }
            let count: Int
            do { count = try FileIO.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...])) } catch { return nil }
            if count == 0 { break }
            filled += count
        }
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<filled]).bindMemory(to: UInt8.self)
        return MessageState(decoding: bytes, strings: strings)
    }

    /// Calls `body` with `id` in decimal as a C string, without a heap allocation.
    static func decimalName<R>(of id: QueueID, _ body: (UnsafePointer<CChar>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 21) { digits in
            var value = id
            var start = 20
            digits[20] = 0
            repeat {
                start -= 1
                digits[start] = CChar(0x30 + Int(value % 10))
                value /= 10
            } while value > 0
            return body(digits.baseAddress! + start)
        }
    }
}
