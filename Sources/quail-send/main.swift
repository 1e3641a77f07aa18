import Glibc
import QuailCore

CommandHelp.answer(CommandLine.arguments.dropFirst(), usage: Scheduler.usage)
// Before any fork: every delivery is forked from here (HugeText.swift says why).
let codeInHugePages = HugeText.adopt()
let home = QuailHome()
// Nothing quail-send opens needs root once the queue is quail's, so the drop comes first.
Privileges.dropForDaemonOrExit("quail-send", home: home)
do throws(SchedulerError) {
    let scheduler = try Scheduler(home: home, codeInHugePages: codeInHugePages)
    exit(try scheduler.run())
} catch {
    Diagnostics.fail("quail-send", "fatal: \(error)", exitCode: 111)
}
