import Glibc

/// What `quail-queue` does once it knows its home: reads the message on fd 0 and the envelope on fd 1, commits
/// both, and returns qmail-queue's exit code. Its `main` runs this after settling its privileges.
public enum QueueProgram {
    /// What `quail-queue --help` prints.
    public static let usage = """
        usage: quail-queue
        Puts one message into $QUAIL_HOME/queue (default /var/quail), exactly as qmail-queue(8)
        does: the message on descriptor 0, the envelope on descriptor 1
        (Fsender\\0Trecipient\\0Trecipient\\0\\0). Exit 0 once both are safe on disk; any other
        code is qmail-queue's (11 to 40 permanent, the rest temporary). At most 10000 recipients
        (else 33). A caller who is not the queue's owner gets control/databytes as a size limit
        (else 32; an unreadable or malformed databytes is 55).
        """

    /// `databytes`' default, as quail-smtpd's.
    static let defaultMessageLimit = 20_971_520

    public static func run(home: QuailHome) -> Int32 {
        let layout = home.queue
        // qmail-queue's guard: a stuck injector dies after a day, long before quail-send treats its debris as dead.
        signal(SIGALRM, SIG_DFL)
        alarm(UInt32(QueueTiming.injectorDeadline))
        // Installed setuid quail: the caller's umask must not decide the spool's modes (QueueWriter sets them too).
        umask(0o077)
        // After the commit, a caller gone or quail-send gone between the trigger's open and its write must not
        // turn a queued message into a death by SIGPIPE, which the caller would read as a failure (and resend).
        signal(SIGPIPE, SIG_IGN)
        let code: Int32
        var writer = QueueWriter(layout: layout)
        do throws(QueueFailure) {
            writer.maximumMessageBytes = try messageLimit(home)
            _ = try writer.inject(messageFD: STDIN_FILENO, envelopeFD: STDOUT_FILENO, received: { QueueWriter.receivedLine() })
            code = 0
        } catch {
            code = error.rawValue  // qmail-queue(8) codes: every caller of qmail-queue already reads them
            switch error {
            case .tooBig:
                Diagnostics.log("quail-queue: refused: the message is larger than control/databytes "
                                + "(\(writer.maximumMessageBytes) bytes); nothing queued")
            case .tooManyRecipients:
                Diagnostics.log("quail-queue: refused: more than \(QueueWriter.maximumRecipients) recipients; nothing queued")
            default:
                break
            }
        }
        if code == 0 { QueueTrigger.pull(layout) }
        return code
    }

    /// The size limit for this caller: none for the queue's owner (quail-send's bounces, quail-local's forwards,
    /// a session that checked `databytes` itself), else `databytes`, the one control file read here, so that the
    /// setuid program lends a local user no more than quail-smtpd would take from anyone.
    static func messageLimit(_ home: QuailHome) throws(QueueFailure) -> Int {
        var info = stat()
        // No queue: the commit fails with its own code.
        guard stat(home.queue.root, &info) == 0, getuid() != info.st_uid else { return 0 }
        do {
            return try ControlDirectory(path: home.path + "/control", only: ["databytes"]).number("databytes", default: defaultMessageLimit)
        } catch {
            Diagnostics.log("quail-queue: \(error)")
            throw .configurationUnreadable
        }
    }
}
