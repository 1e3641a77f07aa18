/// `quail-local --worker`: one Maildir delivery (or forward) per request, with quail-send's configuration.
public struct LocalWorker: WorkerJob {
    let delivery: LocalDelivery

    public init(configuration: Configuration) {
        delivery = LocalDelivery(configuration: configuration)
    }

    public mutating func deliver(message: [UInt8], sender: String, recipients: [String]) -> (report: String, kept: String?) {
        // Temporary, not permanent: a caller's bug must not bounce the message.
        guard recipients.count == 1 else { return (recipients.map { _ in DeliveryResult.deferred(LocalReply.usage).reportLine }.joined(), nil) }
        return (delivery.deliver(sender: sender, recipient: recipients[0], message: message).reportLine, nil)
    }

    public var idleDeadline: ContinuousClock.Instant? { nil }
    public mutating func expire() {}
    public mutating func finish() {}
}
