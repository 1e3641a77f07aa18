/// Turns the text a local program pipes in into the message and envelope to queue. qmail: qmail-inject.
///
/// Pure: no I/O, no clock, no environment; `InjectCommand` supplies all three.
public struct Injection: Sendable {
    public var options: InjectOptions
    public var identity: InjectIdentity
    /// Seconds since the epoch, for a missing `Date:`.
    public var now: Int
    /// The `Message-ID:` value added when the message has none.
    public var messageID: String

    public init(options: InjectOptions, identity: InjectIdentity, now: Int = MailDate.now(), messageID: String? = nil) {
        self.options = options
        self.identity = identity
        self.now = now
        self.messageID = messageID ?? MessageID.make(host: identity.host, now: now)
    }

    /// The LF-ended message with its header completed and `Bcc:` removed, and its envelope.
    public func build(_ input: [UInt8]) throws(InjectError) -> (message: [UInt8], envelope: Envelope) {
        var text = MessageText.unixLineEnds(input)
        if options.dotEndsInput { text = MessageText.truncatedAtLoneDot(text) }
        var (header, body) = MessageHeader.parse(text)
        let recipients = recipients(in: header)
        guard !recipients.isEmpty else { throw .noRecipients }
        // DESIGN.md, "Addresses keep their form": a control character has no place in an envelope address.
        if let bad = ([sender] + recipients).first(where: ControlCharacters.contains) { throw .controlCharacter(bad) }
        // Bcc recipients are in the envelope; the header must not tell the others about them.
        header.remove("Bcc")
        complete(&header)
        return (header.bytes(body: body), Envelope(sender: sender, recipients: recipients))
    }

    /// The envelope sender: `-f`'s address (`""` or `<>` for the null sender), else `user@host`.
    public var sender: String {
        guard let given = options.sender else { return identity.address }
        guard let address = AddressList.parse(given).first else { return "" }
        return AddressList.qualified(address, host: identity.host)
    }

    /// The command line's recipients; the header's `To:`, `Cc:` and `Bcc:` when there are none or with `-t`.
    /// Addresses without a domain get `@host`; repeats are dropped so nobody gets two copies.
    public func recipients(in header: MessageHeader) -> [String] {
        var lists = options.recipients
        if lists.isEmpty || options.recipientsFromHeader {
            lists += ["To", "Cc", "Bcc"].flatMap { header.values($0) }
        }
        var seen = Set<String>()
        return lists.flatMap(AddressList.parse)
            .map { AddressList.qualified($0, host: identity.host) }
            .filter { seen.insert($0).inserted }
    }

    /// Adds `Date:`, `Message-ID:` and `From:` where missing; fields already there are kept as they are.
    public func complete(_ header: inout MessageHeader) {
        if !header.contains("Date") { header.append("Date", MailDate.format(now)) }
        if !header.contains("Message-ID") { header.append("Message-ID", messageID) }
        if !header.contains("From") {
            header.append("From", DisplayName.mailbox(name: options.fullName, address: identity.address))
        }
    }
}
