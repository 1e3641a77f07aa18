/// Who may send to whom through this host: rcpthosts, RELAYCLIENT, validrcptto, badmailfrom and the
/// relay tricks. qmail: qmail-smtpd's addrallowed and bmfcheck.
public struct RecipientPolicy: Sendable {
    public let config: Configuration
    /// `RELAYCLIENT` is set: the client may relay anywhere (qmail's meaning).
    public let relayClient: Bool

    public init(config: Configuration, relayClient: Bool) {
        self.config = config
        self.relayClient = relayClient
    }

    /// Whether the envelope sender is refused by `badmailfrom` (`addr` or `@domain`, case-insensitive).
    public func isBadSender(_ sender: String) -> Bool {
        guard !config.badMailFrom.isEmpty, !sender.isEmpty else { return false }
        let lowered = sender.lowercased()
        if config.badMailFrom.contains(lowered) { return true }
        let domain = Address.domain(of: lowered)
        return !domain.isEmpty && config.badMailFrom.contains("@" + domain)
    }

    /// The refusal for recipient `path`, or `nil` when it is accepted.
    public func refusal(for path: MailPath) -> SMTPReply? {
        guard let address = Address(path.address), RecipientPolicy.isWellFormed(domain: address.domain) else { return .syntaxError }
        if relayClient { return nil }
        if address.domain.hasPrefix("[") {
            // An address literal is ours only when rcpthosts lists it literally.
            return config.rcpthosts.contains(address.domain) ? nil : .addressLiteral
        }
        // Only the final domain decides; anything in the local part that another MTA could read as a
        // further hop (%, !, @ inside quotes: what the quotes hold is judged) is refused outright rather than interpreted.
        if address.localPartContent.contains(where: { $0 == "%" || $0 == "!" || $0 == "@" }) { return .relayTrick }
        guard config.rcpthosts.contains(address.domain) else { return .notOurDomain }
        guard config.isValidRecipient(address) else { return .noSuchUser }
        return nil
    }

    /// Whether a domain (already without its one allowed trailing dot) has no empty label, so that
    /// `user@partner.test..` is a syntax error rather than `partner.test` in disguise.
    static func isWellFormed(domain: String) -> Bool {
        if domain.hasPrefix("[") { return domain.hasSuffix("]") }
        return !domain.isEmpty && !domain.split(separator: ".", omittingEmptySubsequences: false).contains { $0.isEmpty }
    }
}
