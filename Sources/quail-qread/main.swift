import Glibc
import QuailCore

// quail-qread [--summary] [--json]: exit 0, or 111 when the queue cannot be read.
let arguments = Array(CommandLine.arguments.dropFirst())
CommandHelp.answer(arguments, usage: QueueReadCommand.usage)
exit(QueueReadCommand.run(arguments: arguments, home: QuailHome()))
