import Glibc

extension RemoteDelivery {
    /// quail-remote's whole job: reads control files under `home` and the message on stdin, delivers (on the
    /// session `handedOver` describes, when quail-send gave one), and returns what to print with the session
    /// left open, if any. A configuration or input problem is a temporary failure for every recipient.
    public static func run(home: QuailHome, domain: String, sender: String, recipients: [String],
                           handedOver: String? = nil) -> (report: RemoteReport, kept: KeptSession?) {
        let config: Configuration
        do {
            config = try Configuration(home: home, only: Configuration.remoteDeliveryFiles)
        } catch {
            return (RemoteReport(
                all: .deferred(RemoteReply.unreadableControl(error)), count: recipients.count,
                destination: .down("\(error)")), nil)
        }
        let kept = handedOver.flatMap { KeptSession(handedOver: $0, replyTimeout: .seconds(config.timeoutRemote)) }
        let message: [UInt8]
        do {
            message = try FileIO.readAll(STDIN_FILENO)
        } catch {
            return (RemoteReport(
                all: .deferred(RemoteReply.unreadableMessage(error)), count: recipients.count,
                destination: .down("\(error)")), nil)
        }
        // The backup rule needs this host's addresses only for an MX lookup; a relay route goes where it says.
        let ours: Set<String> = switch RemoteRoute.decide(for: domain, config: config) {
        case .mx: LocalAddresses.current(config: config)
        case .relay: []
        }
        let delivery = RemoteDelivery(config: config, localAddresses: ours)
        return delivery.deliver(domain: domain, sender: sender, recipients: recipients, message: message, reusing: kept)
    }
}

extension RemoteDelivery {
    /// The program `quail-remote DOMAIN SENDER RECIPIENT...`: delivers the message on stdin, prints the report on
    /// stdout and returns the exit code. Its `main`, and quail-send's forked child, are this call; `handedOver`
    /// is `$QUAILCONNECTION` (`KeptSession`).
    public static func main(arguments: [String], home: QuailHome = QuailHome(),
                            handedOver: String? = Environment.value(KeptSession.environmentName)) -> Int32 {
        guard arguments.count >= 3 else {
            Diagnostics.log("quail-remote: \(RemoteReply.usage)")
            return 111
        }
        let (report, kept) = run(home: home, domain: arguments[0], sender: arguments[1],
                                 recipients: Array(arguments[2...]), handedOver: handedOver)
        // qmail-remote's contract: once it reports, it exits 0 and the lines say what happened.
        try? FileIO.writeAll(STDOUT_FILENO, report.output)
        if let kept, !kept.handBack(over: STDOUT_FILENO) { kept.end() }
        return 0
    }
}
