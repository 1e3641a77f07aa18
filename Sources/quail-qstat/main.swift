import QuailCore

let json = CommandLine.arguments.dropFirst().contains("--json")
do throws(Errno) {
    let report = try QueueReport(layout: QuailHome().queue)
    try FileIO.writeAll(1, json ? report.summaryJSON : report.summary)
} catch {
    Diagnostics.fail("quail-qstat", "fatal: cannot read the queue: \(error)", exitCode: 111)
}
