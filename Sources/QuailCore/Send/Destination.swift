/// What quail-send knows about one remote destination (a domain, or a relay host several domains share):
/// whether it is down, and which messages wait for it. The heart of recovery-aware retry.
final class Destination {
    let name: String
    var isDown = false
    /// When the next probe may start while the destination is down.
    var nextProbe = 0
    /// A probe delivery is running; no second one starts.
    var probing = false
    /// The message chosen as the probe: it goes out although the destination is down.
    var probeMessage: QueueID?
    /// Messages with recipients parked here: they make no attempts of their own while the destination is down.
    var waiting: Set<QueueID> = []

    init(name: String) { self.name = name }
}

/// The destination line quail-remote prints after its per-recipient report lines.
enum DestinationReport: Equatable {
    /// `Hup HOST IP [TLS]`: a host accepted the connection and spoke SMTP; `tls` is what the session's TLS was
    /// (`TLSv1.3 verified`, `none`), when the line says.
    case up(host: String, tls: String?)
    /// `Hdown REASON`: no host could be reached, or none is left to try.
    case down(String)

    init?(line: String) {
        if line.hasPrefix("Hup") {
            let fields = line.dropFirst(3).split(separator: " ", maxSplits: 2)
            self = .up(host: fields.first.map(String.init) ?? "", tls: fields.count > 2 ? String(fields[2]) : nil)
        } else if line.hasPrefix("Hdown") {
            self = .down(String(line.dropFirst(5)).trimmingWhitespace())
        } else {
            return nil
        }
    }
}
