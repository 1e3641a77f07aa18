import Glibc
import QuailCore

CommandHelp.answer(CommandLine.arguments.dropFirst(), usage: Scheduler.usage)
let home = QuailHome()
// Nothing quail-send opens needs root once the queue is quail's, so the drop comes first.
Privileges.dropForDaemonOrExit("quail-send", home: home)
do throws(SchedulerError) {
    let scheduler = try Scheduler(home: home)
    exit(try scheduler.run())
} catch {
    Diagnostics.fail("quail-send", "fatal: \(error)", exitCode: 111)
}
