import Glibc
import QuailCore

do throws(SchedulerError) {
    let scheduler = try Scheduler(home: QuailHome())
    exit(try scheduler.run())
} catch {
    Diagnostics.fail("quail-send", "fatal: \(error)", exitCode: 111)
}
