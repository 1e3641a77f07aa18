import QuailCore

let home = QuailHome()
let json = CommandLine.arguments.dropFirst().contains("--json")
// A listing is most wanted when something is broken, so a bad control file only costs the local/remote label.
let config = try? Configuration(home: home)
do throws(Errno) {
    let report = try QueueReport(layout: home.queue)
    try FileIO.writeAll(1, json ? report.listingJSON : report.listing { config?.isLocal($0) ?? false })
} catch {
    Diagnostics.fail("quail-qread", "fatal: cannot read the queue: \(error)", exitCode: 111)
}
