import Glibc

/// Hands a message to `quail-queue`, or to `$QUAILQUEUE` when set (a filter or scanner with the same
/// interface), as qmail's programs do with qmail-queue and `$QMAILQUEUE`. qmail: qmail_open/qmail_close.
///
/// A caller that owns the queue itself (quail-smtpd's sessions and quail-local, running as the queue's owner)
/// gets a forked child that runs quail-queue's code (`QueueProgram`) without exec: the same child process with
/// the same pipes and exit codes, minus a program start per message. Any other caller runs the program, which
/// an install makes setuid to the queue's owner.
public struct QueueClient: Sendable {
    /// The program that gets the message on fd 0 and the envelope on fd 1; nil for the forked `QueueProgram`.
    public var program: String?
    /// The queue the forked child writes.
    public var layout: QueueLayout

    public init(program: String? = nil, home: QuailHome = QuailHome()) {
        layout = home.queue
        if let program = program ?? Environment.nonEmpty("QUAILQUEUE") {
            self.program = program
        } else if QueueClient.owns(layout) {
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

    /// Starts the queue program for one message, to be streamed into it.
    public func begin() -> QueueSubmission { QueueSubmission(program: program, layout: layout) }

    /// A forked queue process started before any message is there for it, so that its fork and start-up are
    /// not paid while a client waits; nil for a `$QUAILQUEUE` program, which may read the session's
    /// environment (`TCPREMOTEIP`) and must start with it set.
    public func beginAhead() -> QueueSubmission? { program == nil ? begin() : nil }

    /// Runs the queue program with `message` (LF-ended text) and `envelope`; returns its exit code,
    /// 0 meaning the message is durably queued (see `QueueFailure` for the others).
    public func submit(message: [UInt8], envelope: Envelope) -> Int32 {
        let submission = begin()
        submission.write(message)
        return submission.commit(envelope)
    }
}

/// One message on its way into the queue program: write the message in pieces, then commit with the
/// envelope, or abort so that nothing is queued.
public final class QueueSubmission {
    /// The queue program's pid (qmail-smtpd reports it as `qp`), or -1 if it could not be started.
    public private(set) var pid: pid_t = -1
    private var messageEnd: Int32 = -1
    private var envelopeEnd: Int32 = -1
    /// The forked child's descriptor 3: its exit code as one byte, written before it exits.
    private var verdictEnd: Int32 = -1
    private var failure: Int32?
    /// Message bytes not yet sent: a small message goes over in one write, so the queue process wakes once.
    private var buffered: [UInt8] = []
    /// Bytes gathered before a write to the queue process: a pipe's default capacity.
    static let writeSize = 65536

    init(program: String?, layout: QueueLayout) {
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
            if let program {
                pid = try ChildProcess.spawn(program, arguments: [], stdin: message.read, stdout: envelope.read)
            } else {
                let verdict = try FileIO.makePipe()
                defer { close(verdict.write) }
                do {
                    pid = try ChildProcess.fork(name: "quail-queue", stdin: message.read, stdout: envelope.read,
                                                descriptor3: verdict.write) { QueueSubmission.runForked(layout) }
                } catch {
                    close(verdict.read)
                    throw error
                }
                verdictEnd = verdict.read
            }
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
        guard failure == nil, messageEnd >= 0, !bytes.isEmpty else { return }
        buffered += bytes
        if buffered.count >= QueueSubmission.writeSize { flush() }
    }

    private func flush() {
        guard failure == nil, messageEnd >= 0, !buffered.isEmpty else { return }
        if (try? FileIO.writeAll(messageEnd, buffered)) == nil { failure = QueueFailure.writeFailed.rawValue }
        buffered.removeAll(keepingCapacity: true)
    }

    /// Ends the message, sends the envelope and waits: the queue program's exit code, 0 when queued.
    public func commit(_ envelope: Envelope) -> Int32 {
        flush()
        if messageEnd >= 0 { close(messageEnd) }
        messageEnd = -1
        if failure == nil, (try? FileIO.writeAll(envelopeEnd, envelope.encoded)) == nil { failure = QueueFailure.writeFailed.rawValue }
        return finish()
    }

    /// Gives up: the queue program sees the message end without an envelope and queues nothing.
    public func abort() {
        if messageEnd >= 0 { close(messageEnd) }
        messageEnd = -1
        _ = finish()
    }

    /// Waits for a queue process that already gave its verdict; the submission's end does it anyway.
    public func reap() {
        if verdictEnd >= 0 { close(verdictEnd) }
        verdictEnd = -1
        guard pid > 0 else { return }
        _ = try? ChildProcess.wait(pid)
        pid = -1
    }

    /// Reaps the queue process if it has exited; true when nothing is left to wait for.
    public func reapIfExited() -> Bool {
        guard pid > 0 else { return true }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) != 0 else { return false }
        pid = -1
        return true
    }

    /// A submission dropped unfinished is an abort: the queue process sees the message end with no envelope.
    deinit {
        if messageEnd >= 0 { close(messageEnd) }
        if envelopeEnd >= 0 { close(envelopeEnd) }
        reap()
    }

    /// Whether the queue process is alive and has been given nothing yet. One started ahead may have been
    /// killed while it waited; its message would get a 451 that a fresh process spares it.
    public func isWaiting() -> Bool {
        failure == nil && messageEnd >= 0 && !reapIfExited()
    }

    private func finish() -> Int32 {
        if envelopeEnd >= 0 { close(envelopeEnd) }
        envelopeEnd = -1
        guard pid > 0 else { return failure ?? QueueFailure.internalBug.rawValue }
        let code: Int32
        if let verdict = readVerdict() {
            // Committed or refused: the child's exit (unmapping a whole process) need not delay the reply.
            code = verdict
        } else {
            code = (try? ChildProcess.wait(pid)) ?? QueueFailure.internalBug.rawValue
            pid = -1
        }
        // Exit 0 after we failed to hand over the whole message would be a queued fragment: never claim it.
        if code == 0, let failure { return failure }
        return code
    }

    /// The forked child's verdict byte; nil when there is no such child, or it ended without one (killed).
    private func readVerdict() -> Int32? {
        guard verdictEnd >= 0 else { return nil }
        defer {
            close(verdictEnd)
            verdictEnd = -1
        }
        var byte: UInt8 = 0
        let count = try? retryingInterrupts { read(verdictEnd, &byte, 1) }
        return count == 1 ? Int32(byte) : nil
    }

    /// The forked child's whole life: quail-queue's code, its exit code told on descriptor 3 as soon as it is
    /// known, before quail-send is woken and before the child exits.
    private static func runForked(_ layout: QueueLayout) -> Int32 {
        QueueProgram.run(layout: layout) { code in
            var verdict = UInt8(truncatingIfNeeded: code)
            _ = Glibc.write(3, &verdict, 1)
        }
    }
}
