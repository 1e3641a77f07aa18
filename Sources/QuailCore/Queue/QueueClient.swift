import Glibc

/// Hands a message to `quail-queue`, or to `$QUAILQUEUE` when set (a filter or scanner with the same
/// interface), as qmail's programs do with qmail-queue and `$QMAILQUEUE`. qmail: qmail_open/qmail_close.
///
/// A quail-smtpd session that owns the queue (it runs as the queue's user) and has no `$QUAILQUEUE` commits
/// each message itself, through quail-queue's own code (`QueueWriter`): the same `Received:` line, the same
/// checks of the envelope, the same durability before its 250 and the same exit codes behind its reply.
/// Everyone else (quail-inject, quail-sendmail, quail-local's forwards, a session that does not own the queue)
/// runs the program, which an install makes setuid to the queue's owner.
public struct QueueClient: Sendable {
    /// The program that gets the message on fd 0 and the envelope on fd 1; nil when the caller commits itself.
    public var program: String?
    /// The queue an in-session commit writes.
    public var layout: QueueLayout

    /// `inSession`: the caller is a quail-smtpd session, which commits itself when it may.
    public init(program: String? = nil, home: QuailHome = QuailHome(), inSession: Bool = false) {
        layout = home.queue
        if let program = program ?? Environment.nonEmpty("QUAILQUEUE") {
            self.program = program
        } else if inSession && QueueClient.owns(layout) {
            self.program = nil
        } else {
            self.program = ChildProcess.locate("quail-queue")
        }
    }

    /// Whether this process's effective user owns the queue, so quail-queue would gain no rights by its setuid.
    static func owns(_ layout: QueueLayout) -> Bool {
        var info = stat()
        return stat(layout.root, &info) == 0 && info.st_uid == geteuid()
    }

    /// Starts one message, to be streamed in.
    public func begin() -> QueueSubmission { QueueSubmission(program: program, layout: layout) }

    /// Queues `message` (LF-ended text) with `envelope`; returns the queue program's exit code, 0 meaning the
    /// message is durably queued (see `QueueFailure` for the others).
    public func submit(message: [UInt8], envelope: Envelope) -> Int32 {
        let submission = begin()
        submission.write(message)
        return submission.commit(envelope)
    }
}

/// One message on its way into the queue: write the message in pieces, then commit with the envelope, or
/// abort so that nothing is queued.
public final class QueueSubmission {
    /// The process that queues the message (qmail-smtpd reports it as `qp`): the queue program's pid, or this
    /// process's own when it commits itself; -1 if the program could not be started.
    public private(set) var pid: pid_t = -1
    /// The message being written here, when this process commits itself.
    private var injection: QueueWriter.Injection?
    private let layout: QueueLayout
    private var messageEnd: Int32 = -1
    private var envelopeEnd: Int32 = -1
    private var failure: Int32?
    /// Message bytes not yet sent: a small message goes over in one write, so the queue program wakes once.
    private var buffered: [UInt8] = []
    /// Bytes gathered before a write to the queue program: a pipe's default capacity.
    static let writeSize = 65536

    init(program: String?, layout: QueueLayout) {
        self.layout = layout
        guard let program else {
            pid = getpid()
            do { injection = try QueueWriter(layout: layout).begin() } catch { failure = error.rawValue }
            return
        }
        // A queue program that exits early (a refusing filter) must not kill us with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        guard let message = try? FileIO.makePipe() else { failure = QueueFailure.outOfMemory.rawValue; return }
        guard let envelope = try? FileIO.makePipe() else {
            close(message.read); close(message.write)
            failure = QueueFailure.outOfMemory.rawValue
            return
        }
        defer { close(message.read); close(envelope.read) }
        do {
            pid = try ChildProcess.spawn(program, arguments: [], stdin: message.read, stdout: envelope.read)
        } catch {
            close(message.write); close(envelope.write)
            failure = 120  // qmail's "unable to exec qq"
            return
        }
        messageEnd = message.write
        envelopeEnd = envelope.write
    }

    /// Sends more of the message; after a failure it does nothing and `commit` reports it.
    public func write(_ bytes: [UInt8]) {
        guard failure == nil, !bytes.isEmpty else { return }
        if let injection {
            do throws(QueueFailure) {
                try bytes.withUnsafeBytes { buffer in Result { () throws(QueueFailure) in try injection.append(buffer) } }.get()
            } catch { failure = error.rawValue }
            return
        }
        guard messageEnd >= 0 else { return }
        buffered += bytes
        if buffered.count >= QueueSubmission.writeSize { flush() }
    }

    private func flush() {
        guard failure == nil, messageEnd >= 0, !buffered.isEmpty else { return }
        if (try? FileIO.writeAll(messageEnd, buffered)) == nil { failure = QueueFailure.writeFailed.rawValue }
        buffered.removeAll(keepingCapacity: true)
    }

    /// Ends the message and commits it with `envelope`: 0 when queued, else qmail-queue's exit code.
    public func commit(_ envelope: Envelope) -> Int32 {
        if let injection { return commitHere(injection, envelope) }
        flush()
        if messageEnd >= 0 { close(messageEnd) }
        messageEnd = -1
        if failure == nil, (try? FileIO.writeAll(envelopeEnd, envelope.encoded)) == nil { failure = QueueFailure.writeFailed.rawValue }
        return finish()
    }

    /// quail-queue's commit in this process: the envelope checked as quail-queue reads it, its `Received:` line,
    /// durable before 0, then quail-send woken.
    private func commitHere(_ injection: QueueWriter.Injection, _ envelope: Envelope) -> Int32 {
        self.injection = nil
        if let failure { return failure }
        do throws(QueueFailure) {
            _ = try injection.commit(Envelope.parse(envelope.encoded), received: QueueWriter.receivedLine())
        } catch {
            return error.rawValue
        }
        QueueTrigger.pull(layout)
        return 0
    }

    /// Gives up: nothing is queued (the queue program sees the message end without an envelope).
    public func abort() {
        injection = nil
        if messageEnd >= 0 { close(messageEnd) }
        messageEnd = -1
        _ = finish()
    }

    /// A submission dropped unfinished is an abort.
    deinit {
        if messageEnd >= 0 { close(messageEnd) }
        if envelopeEnd >= 0 { close(envelopeEnd) }
        if pid > 0 && pid != getpid() { _ = try? ChildProcess.wait(pid) }
    }

    private func finish() -> Int32 {
        if envelopeEnd >= 0 { close(envelopeEnd) }
        envelopeEnd = -1
        guard pid > 0, pid != getpid() else { return failure ?? QueueFailure.internalBug.rawValue }
        let code = (try? ChildProcess.wait(pid)) ?? QueueFailure.internalBug.rawValue
        pid = -1
        // Exit 0 after we failed to hand over the whole message would be a queued fragment: never claim it.
        if code == 0, let failure { return failure }
        return code
    }
}
