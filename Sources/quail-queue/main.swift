import Glibc
import QuailCore

let home: QuailHome
do throws(PrivilegeError) { home = try Privileges.queueProgramHome() } catch {
    Diagnostics.log("quail-queue: \(error)")
    exit(QueueFailure.homeTrouble.rawValue)
}
exit(QueueProgram.run(layout: home.queue))
