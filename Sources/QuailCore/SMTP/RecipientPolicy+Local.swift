extension RecipientPolicy {
    /// The refusal for `address` of a local domain, or `nil`: quail-local's own rule (`LocalMailboxes`), so
    /// that what it would refuse is refused here, before the sender (perhaps forged) is owed a bounce.
    func localRefusal(for address: Address) -> SMTPReply? {
        switch LocalMailboxes(configuration: config).verdict(for: address) {
        case .valid: nil
        case .badName(let problem): .badMailboxName(problem)
        case .unknown: .noSuchUser
        case .cannotTell: .mailboxCheckFailed
        }
    }
}
