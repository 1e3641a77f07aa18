import Glibc
import QuailCore

// quail-send runs `quail-local SENDER RECIPIENT` with the message on stdin and reads one report line.
let arguments = CommandLine.arguments
let result: DeliveryResult
if arguments.count == 3 {
    result = LocalDelivery.run(sender: arguments[1], recipient: arguments[2])
} else {
    // Temporary, not permanent: a caller's bug must not bounce the message.
    result = .deferred(LocalReply.usage)
}
try? FileIO.writeAll(STDOUT_FILENO, result.reportLine)
exit(result.exitCode)
