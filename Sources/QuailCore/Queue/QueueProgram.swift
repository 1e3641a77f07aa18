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
        code is qmail-queue's (11 to 40 permanent, the rest temporary).
        """

    public static func run(layout: QueueLayout) -> Int32 {
        // qmail-queue's guard: a stuck injector dies after a day, long before quail-send treats its debris as dead.
        signal(SIGALRM, SIG_DFL)
        alarm(UInt32(QueueTiming.injectorDeadline))
        // Installed setuid quail: the caller's umask must not decide the spool's modes (QueueWriter sets them too).
        umask(0o077)
        // After the commit, a caller gone or quail-send gone between the trigger's open and its write must not
        // turn a queued message into a death by SIGPIPE, which the caller would read as a failure (and resend).
        signal(SIGPIPE, SIG_IGN)
        let code: Int32
        do throws(QueueFailure) {
            _ = try QueueWriter(layout: layout).inject(messageFD: STDIN_FILENO, envelopeFD: STDOUT_FILENO,
                                                       received: { QueueWriter.receivedLine() })
            code = 0
        } catch {
            code = error.rawValue  // qmail-queue(8) codes: every caller of qmail-queue already reads them
        }
        if code == 0 { QueueTrigger.pull(layout) }
        return code
    }
}
