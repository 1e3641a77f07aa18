/// What quail-remote prints: one result per recipient, then where the destination stands.
public struct RemoteReport: Sendable, Equatable {
    /// The destination line quail-send uses for recovery-aware retry.
    public enum Destination: Sendable, Equatable {
        /// A host took the connection and spoke SMTP past its greeting (even if it then refused everything).
        case up(host: String, address: String)
        /// No host could be reached at all, or none may be tried; `reason` is one line.
        case down(String)

        /// `Hup <host> <ip>` or `Hdown <reason>`, with a newline.
        public var line: String {
            switch self {
            case .up(let host, let address): "Hup \(host) \(address)\n"
            case .down(let reason): "Hdown " + LocalReply.printable(reason) + "\n"
            }
        }
    }

    public var results: [DeliveryResult]
    public var destination: Destination

    public init(results: [DeliveryResult], destination: Destination) {
        self.results = results
        self.destination = destination
    }

    /// The same outcome for every one of `count` recipients.
    public init(all result: DeliveryResult, count: Int, destination: Destination) {
        self.init(results: Array(repeating: result, count: count), destination: destination)
    }

    /// What the session's TLS was when a host took the delivery (`TLSSummary`, or `none`); it follows the `Hup`
    /// line's address when there was TLS, so a cleartext session's line is qmail-remote's as before.
    public var tls: String?

    /// The whole of stdout: a `K`, `Z` or `D` line per recipient in argument order, then the `H` line.
    public var output: String {
        var line = destination.line
        if case .up = destination, let tls, tls != "none" { line = String(line.dropLast()) + " " + LocalReply.printable(tls) + "\n" }
        return results.map(\.reportLine).joined() + line
    }
}
