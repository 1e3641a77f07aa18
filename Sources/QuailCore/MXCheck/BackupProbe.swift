/// One recipient a backup is asked about at RCPT, and what a good backup answers.
public struct BackupProbe: Sendable, Hashable {
    /// The check this recipient's answer decides.
    public var check: CheckName
    /// The address as it goes between `<` and `>`.
    public var recipient: String

    public init(check: CheckName, recipient: String) {
        self.check = check
        self.recipient = recipient
    }

    /// The domain the relay probes try to reach: reserved (RFC 2606), so an open relay that accepts it has
    /// nowhere real to send it, yet it exists in the DNS, so a relay that checks domains still accepts it.
    public static let unrelatedDomain = "example.com"
    /// The local part of the relay probes.
    static let relayUser = "mxcheck"

    /// Every probe for `domain`, in the order asked: the postmaster first (RFC 5321 §4.5.1: every domain
    /// has one), then a user nobody has, then the relay attempts, plain and disguised.
    public static func all(domain: String, unknownUser: String) -> [BackupProbe] {
        let other = unrelatedDomain
        return [
            BackupProbe(check: .backupAccepts, recipient: "postmaster@\(domain)"),
            BackupProbe(check: .unknownUser, recipient: "\(unknownUser)@\(domain)"),
            BackupProbe(check: .openRelay, recipient: "\(relayUser)@\(other)"),
            BackupProbe(check: .relayPercent, recipient: "\(relayUser)%\(other)@\(domain)"),
            BackupProbe(check: .relayRoute, recipient: "@\(domain):\(relayUser)@\(other)"),
            BackupProbe(check: .relayQuoted, recipient: "\"\(relayUser)@\(other)\"@\(domain)"),
            BackupProbe(check: .relayBang, recipient: "\(other)!\(relayUser)@\(domain)"),
        ]
    }

    /// A local part no real mailbox has: `mxcheck-` and 12 random hex digits.
    public static func randomUser() -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = (0..<12).map { _ in String(Int.random(in: 0..<16, using: &generator), radix: 16) }
        return "mxcheck-" + digits.joined()
    }
}
