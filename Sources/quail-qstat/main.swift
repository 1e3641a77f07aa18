import Glibc
import QuailCore

// quail-qstat [--json]: exit 0, or 111 when the queue cannot be read.
let arguments = Array(CommandLine.arguments.dropFirst())
CommandHelp.answer(arguments, usage: QueueStatCommand.usage)
exit(QueueStatCommand.run(arguments: arguments, home: QuailHome()))
