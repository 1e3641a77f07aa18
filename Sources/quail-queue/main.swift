import Glibc
import QuailCore

// qmail-queue's guard: a stuck injector dies after a day, long before quail-send treats its debris as dead.
alarm(UInt32(QueueTiming.injectorDeadline))
// Installed setuid quail: the caller's umask must not decide the spool's modes (QueueWriter sets them too).
umask(0o077)
let home: QuailHome
do throws(PrivilegeError) { home = try Privileges.queueProgramHome() } catch {
    Diagnostics.log("quail-queue: \(error)")
    exit(QueueFailure.homeTrouble.rawValue)
}
let writer = QueueWriter(layout: home.queue)
do throws(QueueFailure) {
    _ = try writer.inject(messageFD: STDIN_FILENO, envelopeFD: STDOUT_FILENO, received: QueueWriter.receivedLine())
    exit(0)
} catch {
    exit(error.rawValue)  // qmail-queue(8) codes: every caller of qmail-queue already reads them
}
