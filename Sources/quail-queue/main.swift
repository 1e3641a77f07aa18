import Glibc
import QuailCore

// qmail-queue takes no arguments; `--help` is the one it answers, before anything else about it runs.
CommandHelp.answer(CommandLine.arguments.dropFirst(), usage: QueueProgram.usage)
let home: QuailHome
do throws(PrivilegeError) { home = try Privileges.queueProgramHome() } catch {
    Diagnostics.log("quail-queue: \(error)")
    exit(QueueFailure.homeTrouble.rawValue)
}
exit(QueueProgram.run(home: home))
