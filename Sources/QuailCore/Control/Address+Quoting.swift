/// Local parts in their RFC 5321 form (§4.1.2): a Dot-string as it is, anything else as a Quoted-string. quail
/// keeps an address in this one text form in the envelope, the logs, bounces and on the wire, so a quoted local
/// part reaches the next hop as one mailbox (DESIGN.md, "Addresses keep their form").
extension Address {
    /// The local part's content: a Quoted-string without its quotes and escapes, anything else as it is. Policy
    /// judges this, so quoting hides no `@`, `%` or `!` from it.
    public var localPartContent: String {
        guard let (content, rest) = Address.quotedString(at: Substring(localPart)), rest.isEmpty else { return localPart }
        return content
    }

    /// RFC 5321 Dot-string: atoms of atext joined by single dots, with RFC 6531's UTF-8 beyond ASCII.
    public static func isDotString(_ text: some StringProtocol) -> Bool {
        text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { atom in
            !atom.isEmpty && atom.unicodeScalars.allSatisfy(isAtomCharacter)
        }
    }

    /// A local part's `content` as RFC 5321 writes it: as it is when it is a Dot-string, else a Quoted-string
    /// with `"` and `\` escaped.
    public static func localPartText(content: String) -> String {
        if isDotString(content) { return content }
        var result = "\""
        for scalar in content.unicodeScalars {
            if scalar == "\"" || scalar == "\\" { result += "\\" }
            result.unicodeScalars.append(scalar)
        }
        return result + "\""
    }

    /// The Quoted-string at the start of `text`: its content, quotes and escapes removed, and what follows its
    /// closing quote; nil when `text` does not start with one or it is not closed.
    static func quotedString(at text: Substring) -> (content: String, rest: Substring)? {
        let scalars = text.unicodeScalars
        guard scalars.first == "\"" else { return nil }
        var content = String.UnicodeScalarView()
        var escaped = false
        var index = scalars.index(after: scalars.startIndex)
        while index < scalars.endIndex {
            let scalar = scalars[index]
            index = scalars.index(after: index)
            if escaped {
                content.append(scalar)
                escaped = false
            } else if scalar == "\\" {
                escaped = true
            } else if scalar == "\"" {
                return (String(content), Substring(scalars[index...]))
            } else {
                content.append(scalar)
            }
        }
        return nil
    }

    /// `address` as MAIL FROM or RCPT TO may carry it: the local part re-quoted where it needs quotes (so an
    /// address spooled without them still goes out as one mailbox), the domain a domain name or an address
    /// literal. nil when no valid RFC 5321 mailbox can be made of it: a control character, no domain, a
    /// malformed domain.
    public static func mailboxText(_ address: String) -> String? {
        guard !ControlCharacters.contains(address) else { return nil }
        let text = Substring(address)
        let content: String
        var domain: Substring
        if let (quoted, rest) = quotedString(at: text), rest.hasPrefix("@") {
            (content, domain) = (quoted, rest.dropFirst())
        } else if let at = text.lastIndex(of: "@") {
            (content, domain) = (String(text[..<at]), text[text.index(after: at)...])
        } else {
            return nil
        }
        // RFC 5321 has no root dot; quail's `user@domain.` is `user@domain`.
        if domain.hasSuffix(".") { domain = domain.dropLast() }
        guard isValidDomain(domain) else { return nil }
        return localPartText(content: content) + "@" + domain
    }

    /// RFC 5321 §4.1.2 Domain (labels of letters, digits and hyphens; RFC 6531's UTF-8 beyond ASCII) or
    /// address-literal (printable ASCII in brackets, no `[`, `]` or `\` inside).
    static func isValidDomain(_ domain: Substring) -> Bool {
        if domain.hasPrefix("[") {
            let inside = domain.dropFirst().dropLast()
            return domain.count > 2 && domain.hasSuffix("]")
                && inside.unicodeScalars.allSatisfy { (0x21...0x7E).contains($0.value) && !"[]\\".unicodeScalars.contains($0) }
        }
        return domain.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.unicodeScalars.allSatisfy { scalar in
                isASCIIAlphanumeric(scalar) || scalar == "-"
                    || (scalar.value >= 0x80 && !ControlCharacters.isControl(scalar))
            }
        }
    }

    private static func isAtomCharacter(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value >= 0x80 { return !ControlCharacters.isControl(scalar) }
        return isASCIIAlphanumeric(scalar) || "!#$%&'*+-/=?^_`{|}~".unicodeScalars.contains(scalar)
    }

    private static func isASCIIAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
    }
}
