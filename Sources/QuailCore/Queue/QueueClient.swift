import Glibc

/// Hands a message to `quail-queue`, or to `$QUAILQUEUE` when set (a filter or scanner with the same
/// interface), as qmail's programs do with qmail-queue and `$QMAILQUEUE`. qmail: qmail_open/qmail_close.
public struct QueueClient: Sendable {
    /// The program that gets the message on fd 0 and the envelope on fd 1.
    public var program: String

    public init(program: String? = nil) {
        self.program = program ?? Environment.nonEmpty("QUAILQUEUE") ?? ChildProcess.locate("quail-queue")
    }

    /// Runs the queue program with `message` (LF-ended text) and `envelope`; returns its exit code,
    /// 0 meaning the message is durably queued (see `QueueFailure` for the others).
    public func submit(message: [UInt8], envelope: Envelope) -> Int32 {
        guard let messagePipe = try? FileIO.makePipe() else { return QueueFailure.outOfMemory.rawValue }
        guard let envelopePipe = try? FileIO.makePipe() else {
            close(messagePipe.read); close(messagePipe.write)
            return QueueFailure.outOfMemory.rawValue
        }
        let pid: pid_t
        do {
            pid = try ChildProcess.spawn(program, arguments: [], stdin: messagePipe.read, stdout: envelopePipe.read)
        } catch {
            for fd in [messagePipe.read, messagePipe.write, envelopePipe.read, envelopePipe.write] { close(fd) }
            return 120  // qmail's "unable to exec qq"
        }
        close(messagePipe.read)
        close(envelopePipe.read)
        // A queue program that exits early (a refusing filter) must not kill us with SIGPIPE.
        let previous = signal(SIGPIPE, SIG_IGN)
        let wroteMessage = (try? FileIO.writeAll(messagePipe.write, message)) != nil
        close(messagePipe.write)
        let wroteEnvelope = wroteMessage && (try? FileIO.writeAll(envelopePipe.write, envelope.encoded)) != nil
        close(envelopePipe.write)
        signal(SIGPIPE, previous)
        let code = (try? ChildProcess.wait(pid)) ?? QueueFailure.internalBug.rawValue
        if code == 0 && !(wroteMessage && wroteEnvelope) { return QueueFailure.internalBug.rawValue }
        return code
    }
}
