import Glibc
import QuailCore

let arguments = Array(CommandLine.arguments.dropFirst())
CommandHelp.answer(arguments, usage: QueueControlCommand.usage)
let home = QuailHome()
do throws(QueueControlError) {
    let command = try QueueControlCommand(arguments: arguments)
    // Files quail-qctl writes in the spool must stay quail-send's: as root, work as its user when that user owns the queue.
    Privileges.dropForQueueToolOrExit("quail-qctl", home: home)
    let answer = try QueueControl(layout: home.queue).run(command)
    try? FileIO.writeAll(1, answer + "\n")
    exit(0)
} catch {
    Diagnostics.fail("quail-qctl", error.description, exitCode: error.exitCode)
}
