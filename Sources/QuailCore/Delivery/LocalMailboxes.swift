/// Which local parts of a local domain have a mailbox here (DESIGN.md, "Local recipients"), asked by
/// quail-smtpd at RCPT and by quail-local before it delivers, so that both give the same answer and no
/// guessed name ever gets a Maildir.
///
/// A name is valid when `validrcptto` lists it or has the domain's `@domain` catch-all, when `aliases` has
/// it, or when its Maildir already exists; `postmaster` always is (RFC 5321 4.5.1).
public struct LocalMailboxes: Sendable {
    public enum Verdict: Sendable, Equatable {
        case valid
        /// The name could not be one Maildir directory; refused whatever the control files say.
        case badName(MailboxName.Problem)
        case unknown
        /// Whether the Maildir exists could not be learnt (a permission, an I/O error): ask again later.
        case cannotTell(MaildirError)
    }

    public let configuration: Configuration

    public init(configuration: Configuration) { self.configuration = configuration }

    /// What `address`, of a local domain, is.
    public func verdict(for address: Address) -> Verdict {
        // The name is what a quoted local part holds: `".hidden"@d` names `.hidden`, and is judged as such.
        if let problem = MailboxName.problem(localPart: address.localPartContent) { return .badName(problem) }
        let local = address.localPartContent.lowercased()
        if local == "postmaster" { return .valid }
        if let users = configuration.validRecipients[address.domain], users.contains("@") || users.contains(local) {
            return .valid
        }
        if configuration.aliases[local + "@" + address.domain] != nil { return .valid }
        // A domain that cannot be a directory name has no Maildirs at all.
        guard let maildir = LocalRecipient(address.description)?.maildir(root: configuration.maildirRoot) else {
            return .unknown
        }
        do {
            return try maildir.exists() ? .valid : .unknown
        } catch {
            return .cannotTell(error)
        }
    }
}
