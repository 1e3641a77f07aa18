/// How one check of quail-mxcheck came out; ordered from best to worst.
public enum CheckStatus: String, Sendable, Hashable, Comparable, CaseIterable {
    /// The set-up does what a backup MX needs.
    case pass = "PASS"
    /// Works, but costs something (backscatter, a confusing name) or could not be told for sure.
    case warn = "WARN"
    /// A mistake that loses, loops or relays mail.
    case fail = "FAIL"

    private var rank: Int {
        switch self {
        case .pass: 0
        case .warn: 1
        case .fail: 2
        }
    }

    public static func < (left: CheckStatus, right: CheckStatus) -> Bool { left.rank < right.rank }
}

/// The names quail-mxcheck prints; a fixed vocabulary, so scripts can match on them.
public enum CheckName: String, Sendable, Hashable, CaseIterable {
    /// The domain has MX records (not none, not a null MX, not NXDOMAIN).
    case mxRecords = "mx-records"
    /// One MX target has an address of its own and is not a CNAME alias.
    case mxTarget = "mx-target"
    /// The BACKUP-HOST given on the command line is one of the domain's MX hosts.
    case backupListed = "backup-listed"
    /// The primary has the lowest preference; the backup a higher one.
    case mxPreference = "mx-preference"
    /// The domain's MTA-STS policy (RFC 8461), when it publishes one: fetched and valid; its mode and max_age.
    case mtaSTS = "mta-sts"
    /// One MX host matches the MTA-STS policy's `mx:` patterns.
    case mtaSTSMX = "mta-sts-mx"
    /// One MX address answers with a 220 greeting naming the host as the DNS does.
    case greeting = "greeting"
    /// One MX address offers STARTTLS and the handshake completes.
    case starttls = "starttls"
    /// The certificate of one MX address is valid for its MX name, trusted and not about to expire.
    case certificate = "certificate"
    /// The backup accepts `postmaster@DOMAIN` at RCPT.
    case backupAccepts = "backup-accepts"
    /// The backup refuses a random user at the domain (it validates recipients).
    case unknownUser = "unknown-user"
    /// The backup refuses a recipient at an unrelated domain.
    case openRelay = "open-relay"
    /// `user%other@DOMAIN` is refused.
    case relayPercent = "relay-percent"
    /// `@DOMAIN:user@other` is refused.
    case relayRoute = "relay-route"
    /// `"user@other"@DOMAIN` is refused.
    case relayQuoted = "relay-quoted"
    /// `other!user@DOMAIN` is refused.
    case relayBang = "relay-bang"
}

/// One line of quail-mxcheck's report: `STATUS check reason`.
public struct CheckResult: Sendable, Hashable, CustomStringConvertible {
    public var status: CheckStatus
    public var check: CheckName
    /// One line of text for the admin: what was seen and, for a WARN or FAIL, why it matters.
    public var reason: String

    public init(_ status: CheckStatus, _ check: CheckName, _ reason: String) {
        self.status = status
        self.check = check
        // The report is one line per check; a server's reply text must not break that.
        self.reason = String(reason.map { $0.isNewline ? " " : $0 })
    }

    public var description: String { "\(status.rawValue) \(check.rawValue) \(reason)" }
}
