import Glibc

/// A message's number in the queue: the inode of its spool file, as in qmail, unique while the file exists.
public typealias QueueID = UInt64

/// Where everything lives under `queue/`. Every commit is a rename; nothing is edited in place.
///
/// | path | holds | written by |
/// |---|---|---|
/// | `tmp/PID.TIME.N` | an injection in progress; debris when its writer is dead | quail-queue |
/// | `todo/ID` | a committed message quail-send has not yet seen: envelope then message | quail-queue (the commit is the rename into here) |
/// | `mess/H/ID` | the same file once quail-send took it in (H = ID mod 23) | quail-send (rename from todo) |
/// | `state/H/ID` | progress per recipient, replaced by write-then-rename; absent = nothing tried yet | quail-send |
/// | `lock/trigger` | FIFO: one byte wakes quail-send | quail-queue writes, quail-send reads |
/// | `lock/control` | FIFO: control requests as short lines (`flush DOMAIN`) | quail-qctl, quail-smtpd (ETRN) |
/// | `lock/send` | empty; quail-send holds an exclusive `flock` on it for its whole life | quail-send, quail-qctl |
/// | `status/NAME` | a destination up or down, since when, its last answer (`DestinationStatus`), replaced by rename | quail-send |
/// | `status/.alive` | quail-send's heartbeat: its mtime is renewed every probe interval | quail-send |
///
/// Who may change the spool: quail-queue commits into `todo/`; everything else belongs to whoever holds the
/// `lock/send` lock — quail-send while it runs, else quail-qctl for the length of one operation. A quail-qctl
/// that finds the lock busy asks quail-send through `lock/control` instead of editing under its feet.
///
/// Transitions: tmp → todo (commit, durable before exit 0); todo → mess (take-in); a finished message loses
/// `mess/H/ID` first and `state/H/ID` second, so a file in `mess` always means "still to deliver" and a leftover
/// state file without its message is debris, removed at start-up before any inode can be reused.
public struct QueueLayout: Sendable {
    public let root: String

    /// Subdirectories of `mess/` and `state/`, so no directory holds a million entries (qmail's conf-split).
    public static let split: QueueID = 23

    public init(root: String) { self.root = root }

    public var tmp: String { root + "/tmp" }
    public var todo: String { root + "/todo" }
    public var lock: String { root + "/lock" }
    public var trigger: String { root + "/lock/trigger" }
    public var controlFIFO: String { root + "/lock/control" }
    /// The spool's owner lock: quail-send's for its lifetime, or quail-qctl's while it edits the spool itself.
    public var sendLock: String { root + "/lock/send" }
    /// quail-send's scratch file for state records, renamed over the real one.
    public var stateScratch: String { root + "/state/.new" }
    /// Destination statuses, published by quail-send (`DestinationStatus`).
    public var status: String { root + "/status" }
    /// quail-send's heartbeat: a status counts only while this is fresh.
    public var statusHeartbeat: String { root + "/status/.alive" }
    /// quail-send's scratch file for statuses and the heartbeat, renamed over the real one.
    public var statusScratch: String { root + "/status/.new" }
    public func statusPath(_ destination: String) -> String { "\(root)/status/\(DestinationStatus.fileName(for: destination))" }

    public func todoPath(_ id: QueueID) -> String { "\(root)/todo/\(id)" }
    public func messDirectory(_ bucket: QueueID) -> String { "\(root)/mess/\(bucket)" }
    public func stateDirectory(_ bucket: QueueID) -> String { "\(root)/state/\(bucket)" }
    public func messPath(_ id: QueueID) -> String { "\(root)/mess/\(id % QueueLayout.split)/\(id)" }
    public func statePath(_ id: QueueID) -> String { "\(root)/state/\(id % QueueLayout.split)/\(id)" }

    /// Creates every directory (mode 0700) and both FIFOs; what exists is left as it is.
    public func create() throws(Errno) {
        for directory in [root, tmp, todo, lock, root + "/mess", root + "/state", status] {
            try FileIO.makeDirectories(directory)
        }
        for bucket in 0..<QueueLayout.split {
            try FileIO.makeDirectories(messDirectory(bucket))
            try FileIO.makeDirectories(stateDirectory(bucket))
        }
        for fifo in [trigger, controlFIFO] where mkfifo(fifo, 0o600) != 0 {
            let error = Errno.current
            if error != .fileExists { throw error }
        }
    }
}
