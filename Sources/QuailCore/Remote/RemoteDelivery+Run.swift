import Glibc

extension RemoteDelivery {
    /// The one-shot quail-remote's job: reads control files under `home` and the message on stdin, delivers,
    /// and returns what to print. A configuration or input problem is a temporary failure for every recipient.
    public static func run(home: QuailHome, domain: String, sender: String, recipients: [String]) -> RemoteReport {
        let config: Configuration
        do {
            config = try Configuration(home: home, only: Configuration.remoteDeliveryFiles)
        } catch {
            return RemoteReport(
                all: .deferred(RemoteReply.unreadableControl(error)), count: recipients.count, destination: .down("\(error)"))
        }
        let message: [UInt8]
        do {
            message = try FileIO.readAll(STDIN_FILENO)
        } catch {
            return RemoteReport(
                all: .deferred(RemoteReply.unreadableMessage(error)), count: recipients.count, destination: .down("\(error)"))
        }
        // The backup rule needs this host's addresses only for an MX lookup; a relay route goes where it says.
        let ours: Set<String> = switch RemoteRoute.decide(for: domain, config: config) {
        case .mx: LocalAddresses.current(config: config)
        case .relay: []
        }
        var delivery = RemoteDelivery(config: config, localAddresses: ours)
        delivery.mtaSTSDirectory = home.queue.root + "/mta-sts"
        let (report, kept) = delivery.deliver(domain: domain, sender: sender, recipients: recipients, message: message)
        kept?.end()
        return report
    }
}

extension RemoteDelivery {
    /// The program: `quail-remote DOMAIN SENDER RECIPIENT...` delivers the message on stdin, prints the report
    /// on stdout and returns the exit code; `quail-remote --worker` serves quail-send (`DeliveryWorker`).
    public static func main(arguments: [String], home: QuailHome = QuailHome()) -> Int32 {
        if arguments == ["--worker"] {
            return DeliveryWorker.serve("quail-remote", home: home) { RemoteWorker(config: $0, home: home) }
        }
        guard arguments.count >= 3 else {
            Diagnostics.log("quail-remote: \(RemoteReply.usage)")
            return 111
        }
        let report = run(home: home, domain: arguments[0], sender: arguments[1], recipients: Array(arguments[2...]))
        // qmail-remote's contract: once it reports, it exits 0 and the lines say what happened.
        try? FileIO.writeAll(STDOUT_FILENO, report.output)
        return 0
    }
}
