import Glibc
import QuailCore

// qmail-queue's guard: a stuck injector dies after a day, long before quail-send treats its debris as dead.
alarm(UInt32(QueueTiming.injectorDeadline))
let writer = QueueWriter(layout: QuailHome().queue)
do throws(QueueFailure) {
    _ = try writer.inject(messageFD: STDIN_FILENO, envelopeFD: STDOUT_FILENO, received: QueueWriter.receivedLine())
    exit(0)
} catch {
    exit(error.rawValue)  // qmail-queue(8) codes: every caller of qmail-queue already reads them
}
