import Glibc
import QuailCore

// quail-send runs `quail-local SENDER RECIPIENT` with the message on stdin and reads one report line.
exit(LocalDelivery.main(arguments: Array(CommandLine.arguments.dropFirst())))
