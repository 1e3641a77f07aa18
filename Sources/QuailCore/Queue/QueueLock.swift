import Glibc

/// The spool's owner lock, an exclusive `flock` on `queue/lock/send` (see `QueueLayout`).
///
/// quail-send takes it at start-up, before it reads the spool, and keeps it until it exits; quail-qctl tries
/// it without waiting and edits the spool itself only when it got it. `flock` locks die with their holder,
/// so a killed quail-send or quail-qctl never leaves the spool locked.
public struct QueueLock: ~Copyable {
    /// The open lock file; closing it (or exiting) releases the lock.
    public let descriptor: Int32

    private init(descriptor: Int32) { self.descriptor = descriptor }

    /// Takes the lock if nobody holds it; `nil` when it is busy.
    public static func attempt(_ layout: QueueLayout) throws(Errno) -> QueueLock? {
        let fd = try FileIO.open(layout.sendLock, O_RDWR | O_CREAT)
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return QueueLock(descriptor: fd) }
        let error = Errno.current
        close(fd)
        if error == .wouldBlock || error == .interrupted { return nil }
        throw error
    }

    /// Waits for the lock, calling `pause` between tries; `pause` waits a little (watching whatever else
    /// matters, such as a signal pipe) and returns false to give up, which returns `nil`.
    public static func wait(_ layout: QueueLayout, pause: () -> Bool) throws(Errno) -> QueueLock? {
        while true {
            if let lock = try attempt(layout) { return lock }
            guard pause() else { return nil }
        }
    }

    /// Gives the lock up.
    public consuming func release() {
        close(descriptor)
        discard self
    }

    deinit { close(descriptor) }
}
