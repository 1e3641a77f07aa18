import Glibc
import QuailCore

// quail-send runs `quail-remote DOMAIN SENDER RECIPIENT...` with the message on stdin and reads one report
// line per recipient, then the destination line (RemoteReport).
let arguments = CommandLine.arguments
guard arguments.count >= 4 else {
    Diagnostics.fail("quail-remote", RemoteReply.usage, exitCode: 111)
}
let report = RemoteDelivery.run(
    home: QuailHome(), domain: arguments[1], sender: arguments[2], recipients: Array(arguments[3...]))
// qmail-remote's contract: once it reports, it exits 0 and the lines say what happened.
try? FileIO.writeAll(STDOUT_FILENO, report.output)
exit(0)
