/// The whole of `quail-qread [--summary] [--json]`: arguments in, listing out, exit status back. qmail: qmail-qread.
public enum QueueReadCommand {
    /// What `quail-qread --help` prints.
    public static let usage = """
        usage: quail-qread [--summary] [--json]
        Lists the messages in $QUAIL_HOME/queue (default /var/quail): a line per message (date, #ID,
        bytes, sender), then a line per recipient (local or remote, done or not, attempts, next
        attempt, last error).
          --summary  a row per recipient domain instead: messages, held, oldest, next attempt, the
                     destination's status as quail-send published it (up, down, unknown), error
          --json     one JSON object per line (per message, or per domain with --summary)
        """

    /// Prints the listing and returns 0, or 111 when the queue cannot be read.
    public static func run(arguments: [String], home: QuailHome) -> Int32 {
        let json = arguments.contains("--json")
        // A listing is most wanted when something is broken, so a bad control file only costs the local/remote label.
        let config = try? Configuration(home: home)
        do throws(Errno) {
            let report = try QueueReport(layout: home.queue)
            let now = MailDate.now()
            if arguments.contains("--summary") {
                let status = { (domain: String) -> DestinationStatus in
                    guard let config else { return .unknown }
                    return DestinationStatus.read(layout: home.queue, destination: config.destination(for: domain),
                                                  probeInterval: config.probeInterval, now: now)
                }
                try FileIO.writeAll(1, json ? report.domainJSON(now: now, status: status) : report.domainTable(now: now, status: status))
            } else {
                try FileIO.writeAll(1, json ? report.listingJSON : report.listing { config?.isLocal($0) ?? false })
            }
            return 0
        } catch {
            Diagnostics.log("quail-qread: fatal: cannot read the queue: \(error)")
            return 111
        }
    }
}
