import Glibc
import QuailCore

// quail-send runs `quail-remote DOMAIN SENDER RECIPIENT...` with the message on stdin and reads one report
// line per recipient, then the destination line (RemoteReport).
exit(RemoteDelivery.main(arguments: Array(CommandLine.arguments.dropFirst())))
