/// The address of a MAIL or RCPT command and its parameters: `<path> [KEY=VALUE ...]` (RFC 5321 §4.1.2).
public struct MailPath: Sendable, Equatable {
    /// The mailbox after any source route is stripped, in its RFC 5321 form: the local part quoted where it
    /// needs quotes (`"c d"@example.org`), not where it does not (`"bob"@d` is `bob@d`); empty for `<>`.
    public var address: String
    /// Whether the path carried a source route (`@a,@b:user@d`), which was stripped.
    public var hadSourceRoute: Bool
    /// Whether the local part was a quoted string.
    public var quotedLocalPart: Bool
    /// Parameters after the path, keys uppercased.
    public var parameters: [String: String]

    /// Parses `<user@domain> SIZE=123`; `nil` on a syntax error. A missing `<>` is tolerated, as most servers do.
    public init?(_ argument: String) {
        var rest = Substring(argument)
        let path: Substring
        if rest.hasPrefix("<") {
            guard let close = MailPath.closingBracket(in: rest) else { return nil }
            path = rest[rest.index(after: rest.startIndex)..<close]
            rest = rest[rest.index(after: close)...]
        } else {
            let end = rest.firstIndex(of: " ") ?? rest.endIndex
            path = rest[..<end]
            rest = rest[end...]
        }
        var mailbox = path
        hadSourceRoute = false
        if mailbox.hasPrefix("@") {
            // RFC 5321 §4.1.1.3: a source route is ignored; the final mailbox decides.
            guard let colon = mailbox.firstIndex(of: ":") else { return nil }
            mailbox = mailbox[mailbox.index(after: colon)...]
            hadSourceRoute = true
        }
        quotedLocalPart = mailbox.hasPrefix("\"")
        // A control character has no business in an address, quoted or not, and would reach logs and terminals.
        guard !ControlCharacters.contains(mailbox), let address = MailPath.canonical(mailbox) else { return nil }
        self.address = address
        parameters = [:]
        for word in rest.split(separator: " ") {
            // Empty pieces are kept: a bare `=` is the unknown parameter "", not a split into nothing.
            let pair = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            parameters[pair[0].uppercased()] = pair.count > 1 ? String(pair[1]) : ""
        }
    }

    /// The `>` that closes the path, skipping any inside a quoted local part.
    private static func closingBracket(in text: Substring) -> Substring.Index? {
        var quoted = false
        var escaped = false
        for index in text.indices.dropFirst() {
            let character = text[index]
            if escaped { escaped = false; continue }
            if character == "\\" && quoted { escaped = true; continue }
            if character == "\"" { quoted.toggle() }
            if character == ">" && !quoted { return index }
        }
        return nil
    }

    /// The mailbox with its local part in RFC 5321 form (`Address.localPartText`); nil when a quoted string is
    /// not closed, when no `@domain` follows the local part, or when space, `<`, `>` or a quote is left outside quotes.
    private static func canonical(_ mailbox: Substring) -> String? {
        let content: String
        let domain: Substring
        if mailbox.hasPrefix("\"") {
            // RFC 5321 §4.1.2: a Quoted-string is a whole local part, and a mailbox has a domain after it;
            // `<"user@domain">` has none, whatever the quotes hold.
            guard let (quoted, rest) = Address.quotedString(at: mailbox), rest.hasPrefix("@") else { return nil }
            (content, domain) = (quoted, rest.dropFirst())
        } else if let at = mailbox.lastIndex(of: "@") {
            (content, domain) = (String(mailbox[..<at]), mailbox[mailbox.index(after: at)...])
        } else {
            // `<>`, or `<postmaster>` (RFC 5321 §4.5.1), or a syntax error for the caller to find.
            return mailbox.contains(where: MailPath.isOutsideQuotes) ? nil : String(mailbox)
        }
        guard !content.contains(where: MailPath.isOutsideQuotes) || mailbox.hasPrefix("\""), !domain.isEmpty,
              !domain.contains(where: { MailPath.isOutsideQuotes($0) || $0 == "@" || $0 == "\\" })
        else { return nil }
        return Address.localPartText(content: content) + "@" + domain
    }

    /// What an unquoted mailbox cannot hold: it would end the path or split the command's words.
    private static func isOutsideQuotes(_ character: Character) -> Bool {
        character == " " || character == "<" || character == ">" || character == "\""
    }
}
