import QuailCore

let home = QuailHome()
let arguments = CommandLine.arguments.dropFirst()
let json = arguments.contains("--json")
// A listing is most wanted when something is broken, so a bad control file only costs the local/remote label.
let config = try? Configuration(home: home)
do throws(Errno) {
    let report = try QueueReport(layout: home.queue)
    let now = MailDate.now()
    if arguments.contains("--summary") {
        try FileIO.writeAll(1, json ? report.domainJSON(now: now) : report.domainTable(now: now))
    } else {
        try FileIO.writeAll(1, json ? report.listingJSON : report.listing { config?.isLocal($0) ?? false })
    }
} catch {
    Diagnostics.fail("quail-qread", "fatal: cannot read the queue: \(error)", exitCode: 111)
}
