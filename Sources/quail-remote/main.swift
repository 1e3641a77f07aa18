import Glibc
import QuailCore

// quail-send runs `quail-remote DOMAIN SENDER RECIPIENT...` with the message on stdin and reads one report
// line per recipient, then the destination line (RemoteReport).
CommandHelp.answer(CommandLine.arguments.dropFirst(), usage: RemoteDelivery.usage)
exit(RemoteDelivery.main(arguments: Array(CommandLine.arguments.dropFirst())))
