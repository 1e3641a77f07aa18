/// The recipient of one local delivery, and what quail-local may do with it: where its Maildir is,
/// whether it is an alias, and what its alias targets expand to.
public struct LocalRecipient: Sendable, Equatable {
    /// The address exactly as quail-send passed it, for the `Delivered-To:` line.
    public let original: String
    public let address: Address

    /// Parses `local@domain`; `nil` when it has no `@`, an empty side, or a control character (which
    /// would break the `Delivered-To:` line it goes into).
    public init?(_ text: String) {
        guard let address = Address(text), !LocalRecipient.hasControlCharacter(text) else { return nil }
        self.original = text
        self.address = address
    }

    /// The `aliases` key: `local@domain`, lowercased.
    public var aliasKey: String { address.description.lowercased() }

    /// The Maildir under `root`: `<root>/<domain>/<local>/`, both lowercased; `nil` when either part could
    /// name anything but one directory below its parent. (The 64-octet limit is `LocalMailboxes`' to apply,
    /// to the local part as it came: lowercasing may lengthen a name.)
    public func maildir(root: String) -> Maildir? {
        let domain = address.domain.lowercased()
        // What a quoted local part holds, without its quotes: `"c d"@d` lives in `c d/`.
        let local = address.localPartContent.lowercased()
        guard LocalRecipient.isSafePathComponent(domain), LocalRecipient.isSafePathComponent(local) else { return nil }
        return Maildir(root: root, components: [domain, local])
    }

    /// The path of `maildir(root:)`.
    public func maildirPath(root: String) -> String? { maildir(root: root)?.path }

    /// The forwarding addresses for `targets`; a target without `@` is that local part at this domain.
    public func expand(aliasTargets targets: [String]) -> [String] {
        targets.map { $0.contains("@") ? $0 : $0 + "@" + address.domain }
    }

    /// Whether `component` can be one directory name inside a parent (`MailboxName`'s rule at the file
    /// system's length limit): not empty, no `/` or control character, and no leading dot, which rules out
    /// `.`, `..` and the hidden names a Maildir reader would skip.
    public static func isSafePathComponent(_ component: String) -> Bool {
        MailboxName.problem(component, limit: MailboxName.maximumComponentOctets) == nil
    }

    static func hasControlCharacter(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }
}
