/// What came of STARTTLS with one MX address, as a sender would see it.
public enum STARTTLSOutcome: Sendable, Equatable {
    /// EHLO names no STARTTLS, or the host knows no EHLO (HELO offers nothing).
    case notOffered
    /// STARTTLS was answered with something other than 220.
    case refused(ServerReply)
    /// The handshake failed, or the session broke on the way to it.
    case failed(String)
    /// The handshake completed; the certificate is judged by what the summary says.
    case established(TLSSummary)
}

/// The `starttls` and `certificate` checks: what senders that use TLS, or require it, find at one MX address
/// (RFC 3207; RFC 8461 §4 for what MTA-STS senders require: a certificate for the MX name, chaining to a
/// trusted authority, not expired).
public enum TLSChecks {
    /// A certificate that expires sooner is a WARN: its renewal has failed or was forgotten.
    public static let expiryWarning = 14 * 86400

    /// Judges one address of `host`; `enforced`: the domain's MTA-STS policy is in enforce mode, so senders
    /// that honour it skip a host without TLS.
    public static func judge(host: String, place: String, outcome: STARTTLSOutcome, enforced: Bool) -> [CheckResult] {
        let at = "\(host) \(place)"
        let cleartext =
            enforced
            ? "senders that enforce the domain's MTA-STS policy skip it"
            : "mail reaches it in cleartext, and senders that require TLS skip it"
        switch outcome {
        case .notOffered:
            return [CheckResult(enforced ? .fail : .warn, .starttls, "\(at) does not offer STARTTLS: \(cleartext)")]
        case .refused(let reply):
            return [CheckResult(enforced ? .fail : .warn, .starttls, "\(at) refuses STARTTLS: \(reply): \(cleartext)")]
        case .failed(let why):
            return [
                CheckResult(
                    .fail, .starttls,
                    "\(at) offers STARTTLS but it fails: \(why): senders that do not fall back to cleartext cannot "
                        + "deliver there")
            ]
        case .established(let summary):
            return [
                CheckResult(.pass, .starttls, "\(at) offers STARTTLS: \(summary.version) \(summary.cipher)"),
                certificate(at: at, host: host, summary),
            ]
        }
    }

    /// The certificate: valid for the MX name, from a trusted authority, and not about to expire.
    static func certificate(at: String, host: String, _ summary: TLSSummary) -> CheckResult {
        let left = summary.certificateSecondsLeft
        if let failure = summary.verificationFailure {
            let expired = left.map { $0 < 0 ? " (it expired \(span(-$0)) ago)" : "" } ?? ""
            return CheckResult(
                .fail, .certificate,
                "\(at): the certificate is not valid for \(host): \(failure)\(expired): senders that verify "
                    + "certificates (MTA-STS enforce, Postfix's verify) skip this host")
        }
        guard let left else { return CheckResult(.fail, .certificate, "\(at): no certificate") }
        if left < expiryWarning {
            return CheckResult(
                .warn, .certificate,
                "\(at): the certificate is valid for \(host) but expires in \(span(left)): renew it, or senders that "
                    + "verify certificates skip this host once it has")
        }
        return CheckResult(.pass, .certificate, "\(at): the certificate is valid for \(host), expires in \(span(left))")
    }

    /// `1 day`, `365 days`, or `less than a day`: to the nearest day, so that a check run twice in a row reads
    /// the same.
    static func span(_ seconds: Int) -> String {
        let days = (seconds + 43200) / 86400
        return days == 0 ? "less than a day" : days == 1 ? "1 day" : "\(days) days"
    }
}
