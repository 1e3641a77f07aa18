/// The address of a MAIL or RCPT command and its parameters: `<path> [KEY=VALUE ...]` (RFC 5321 §4.1.2).
public struct MailPath: Sendable, Equatable {
    /// The mailbox after any source route is stripped; empty for the null path `<>`.
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
        guard let address = MailPath.unquoted(mailbox) else { return nil }
        self.address = address
        guard !address.contains(where: { $0 == " " || $0 == "<" || $0 == ">" || $0.asciiValue.map { $0 < 0x20 } == true }) || quotedLocalPart
        else { return nil }
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

    /// `"john doe"@d` → `john doe@d`: the quotes go, what they held stays (and is judged by the policy).
    /// nil when the quoted string is not closed or no `@domain` follows it.
    private static func unquoted(_ mailbox: Substring) -> String? {
        guard mailbox.hasPrefix("\"") else { return String(mailbox) }
        var localPart = ""
        var escaped = false
        for index in mailbox.indices.dropFirst() {
            let character = mailbox[index]
            if escaped { localPart.append(character); escaped = false; continue }
            if character == "\\" { escaped = true; continue }
            if character == "\"" {
                // RFC 5321 §4.1.2: a Quoted-string is a whole local part, and a mailbox has a domain after it;
                // `<"user@domain">` has none, whatever the quotes hold.
                let rest = mailbox[mailbox.index(after: index)...]
                return rest.hasPrefix("@") ? localPart + rest : nil
            }
            localPart.append(character)
        }
        return nil
    }
}
