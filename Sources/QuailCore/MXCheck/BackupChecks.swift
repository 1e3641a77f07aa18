/// Turns a backup's answers into report lines; pure, so each rule is tested on replies alone.
///
/// The rules: `postmaster@DOMAIN` must be accepted (5xx FAIL). A random user refused with 5xx is a PASS,
/// accepted is a WARN (no recipient validation, or a catch-all: the backup takes mail the primary will
/// bounce to forged senders). Every relay probe must be refused (2xx FAIL). A 4xx decides nothing either
/// way, so it is a WARN, and so is a probe never asked because the session ended first.
public enum BackupChecks {
    /// The lines for one backup; `place` names the address and port that were asked.
    public static func judge(
        host: String, place: String, probes: [BackupProbe], transcript: BackupConversation.Transcript
    ) -> [CheckResult] {
        if transcript.replies.isEmpty, let failure = transcript.failure {
            return [CheckResult(.fail, .backupAccepts, "\(host) \(place): \(failure); nothing else could be checked")]
        }
        var results: [CheckResult] = []
        let postmasterAccepted = zip(probes, transcript.replies).contains {
            $0.check == .backupAccepts && $1.isPositive
        }
        for (index, probe) in probes.enumerated() {
            guard index < transcript.replies.count else {
                let why = transcript.failure ?? "the session ended"
                results.append(CheckResult(.warn, probe.check, "\(host): <\(probe.recipient)> was not asked: \(why)"))
                continue
            }
            let reply = transcript.replies[index]
            switch probe.check {
            case .backupAccepts: results.append(postmaster(host, place, probe.recipient, reply))
            case .unknownUser: results.append(unknownUser(host, probe.recipient, reply, postmasterAccepted))
            default: results.append(relay(host, probe, reply))
            }
        }
        return results
    }

    static func postmaster(_ host: String, _ place: String, _ recipient: String, _ reply: ServerReply) -> CheckResult {
        if reply.isPositive {
            return CheckResult(.pass, .backupAccepts, "\(host) \(place) accepts <\(recipient)>: \(reply)")
        }
        if reply.isTemporaryFailure {
            return CheckResult(
                .warn, .backupAccepts, "\(host) \(place) only temporarily refuses <\(recipient)>: \(reply)")
        }
        return CheckResult(
            .fail, .backupAccepts,
            "\(host) \(place) refuses <\(recipient)>: \(reply): it is not set up as a backup for this domain")
    }

    static func unknownUser(_ host: String, _ recipient: String, _ reply: ServerReply, _ postmasterAccepted: Bool)
        -> CheckResult
    {
        guard postmasterAccepted else {
            return CheckResult(
                .warn, .unknownUser,
                "\(host): cannot tell whether it validates recipients, as it does not accept postmaster either")
        }
        if reply.isPositive {
            return CheckResult(
                .warn, .unknownUser,
                "\(host) accepts unknown user <\(recipient)>: \(reply): it does not validate recipients (or the "
                    + "domain has a catch-all), so it takes mail the primary will refuse and bounces it to forged "
                    + "senders (backscatter); list the valid users (validrcptto)")
        }
        if reply.isTemporaryFailure {
            return CheckResult(
                .warn, .unknownUser,
                "\(host) only temporarily refuses <\(recipient)>: \(reply): cannot tell whether it validates recipients"
            )
        }
        return CheckResult(.pass, .unknownUser, "\(host) refuses unknown user <\(recipient)>: \(reply)")
    }

    static func relay(_ host: String, _ probe: BackupProbe, _ reply: ServerReply) -> CheckResult {
        let recipient = "<\(probe.recipient)>"
        if reply.isPositive {
            return CheckResult(.fail, probe.check, "\(host) accepts \(recipient): \(reply): \(danger(probe.check))")
        }
        if reply.isTemporaryFailure {
            return CheckResult(
                .warn, probe.check,
                "\(host) only temporarily refuses \(recipient): \(reply): cannot tell whether it relays")
        }
        return CheckResult(.pass, probe.check, "\(host) refuses \(recipient): \(reply)")
    }

    /// Why accepting a relay probe is a mistake.
    static func danger(_ check: CheckName) -> String {
        let other = BackupProbe.unrelatedDomain
        switch check {
        case .openRelay: return "an open relay: it takes mail for any domain from anyone"
        case .relayPercent: return "the % hack can route the mail on to \(other) (qmail's percenthack, sendmail)"
        case .relayRoute: return "the source route (RFC 5321 §3.6.1) hands the mail on to \(other)"
        case .relayQuoted: return "the quoted @ can route the mail on to \(other)"
        case .relayBang: return "the UUCP bang path can route the mail on to \(other)"
        default: return "it should have been refused"
        }
    }
}
