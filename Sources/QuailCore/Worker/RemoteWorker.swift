/// `quail-remote --worker`: one SMTP delivery per request, with quail-send's configuration. After a clean
/// transaction the worker keeps the session open for the next message to the same destination, as Postfix's
/// connection cache does: no connect, greeting or EHLO for it, and the server saves the same. A kept session
/// is ended after `idleLimit` without a message and reused for at most `ageLimit` in all, so a backlog uses
/// it and a quiet destination is not held open.
public struct RemoteWorker: WorkerJob {
    let config: Configuration
    /// The TLS client context, made once: the trust store and `tlsca.pem` are read for every delivery otherwise.
    let tls: Result<TLSContext, TLSError>
    private var kept: Kept?

    struct Kept {
        var destination: String
        var session: KeptSession
        var born: ContinuousClock.Instant
        var idleSince: ContinuousClock.Instant
    }

    static let idleLimit = Duration.seconds(2)
    static let ageLimit = Duration.seconds(300)

    /// Where MTA-STS policies are cached: `queue/mta-sts` under the home.
    let mtaSTSDirectory: String

    public init(config: Configuration, home: QuailHome) {
        self.config = config
        mtaSTSDirectory = home.queue.root + "/mta-sts"
        tls = RemoteDelivery.tlsContext(config)
    }

    public mutating func deliver(message: [UInt8], sender: String, recipients: [String]) -> (report: String, kept: String?) {
        let domain = Address.domain(of: recipients.first ?? "")
        let destination = config.destination(for: domain)
        let now = ContinuousClock.now
        // A session kept for another destination, or kept too long, ends here; the delivery resets the one it reuses.
        var reusing: Kept?
        if let previous = kept.take() {
            if previous.destination == destination && now - previous.born < Self.ageLimit {
                reusing = previous
            } else {
                previous.session.end()
            }
        }
        // The backup rule needs this host's addresses only for an MX lookup; a relay route goes where it says.
        let ours: Set<String> = switch RemoteRoute.decide(for: domain, config: config) {
        case .mx: LocalAddresses.current(config: config)
        case .relay: []
        }
        var delivery = RemoteDelivery(config: config, localAddresses: ours, tls: tls)
        delivery.mtaSTSDirectory = mtaSTSDirectory
        let (report, session) = delivery.deliver(domain: domain, sender: sender, recipients: recipients, message: message,
                                                 reusing: reusing?.session)
        guard let session else { return (report.output, nil) }
        let born = reusing.flatMap { $0.session.connection === session.connection ? $0.born : nil } ?? now
        kept = Kept(destination: destination, session: session, born: born, idleSince: .now)
        return (report.output, destination)
    }

    public var idleDeadline: ContinuousClock.Instant? { kept.map { $0.idleSince + Self.idleLimit } }

    public mutating func expire() {
        guard let deadline = idleDeadline, deadline <= .now else { return }
        finish()
    }

    public mutating func finish() {
        kept.take()?.session.end()
    }
}
