import Glibc
import QuailCore

// quail-send runs `quail-local SENDER RECIPIENT` with the message on stdin and reads one report line.
CommandHelp.answer(CommandLine.arguments.dropFirst(), usage: LocalDelivery.usage)
exit(LocalDelivery.main(arguments: Array(CommandLine.arguments.dropFirst())))
