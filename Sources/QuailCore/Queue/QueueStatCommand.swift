/// The whole of `quail-qstat [--json]`: arguments in, counts out, exit status back. qmail: qmail-qstat.
public enum QueueStatCommand {
    /// What `quail-qstat --help` prints.
    public static let usage = """
        usage: quail-qstat [--json]
        Counts the messages in $QUAIL_HOME/queue (default /var/quail), and those quail-send has not
        taken in yet, in qmail-qstat's two lines.
          --json     {"messages": N, "unprocessed": M}
        """

    /// Prints the counts and returns 0, or 111 when the queue cannot be read.
    public static func run(arguments: [String], home: QuailHome) -> Int32 {
        let json = arguments.contains("--json")
        do throws(Errno) {
            let report = try QueueReport(layout: home.queue)
            try FileIO.writeAll(1, json ? report.summaryJSON : report.summary)
            return 0
        } catch {
            Diagnostics.log("quail-qstat: fatal: cannot read the queue: \(error)")
            return 111
        }
    }
}
