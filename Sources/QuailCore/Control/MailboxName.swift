/// The one rule for a name that becomes a Maildir directory here, checked on its UTF-8 bytes: quail-smtpd
/// applies it at RCPT and quail-local before it delivers, so nothing accepted at RCPT fails later for its name.
///
/// Bytes, not Characters: a combining mark after `/` makes one Character that is not `/`, yet the file
/// system still sees the slash.
public enum MailboxName {
    /// RFC 5321 4.5.3.1.1: a local part is at most 64 octets.
    public static let maximumLocalPartOctets = 64
    /// What a file system takes as one name (NAME_MAX), for a domain's directory.
    public static let maximumComponentOctets = 255

    /// Why a name cannot be a Maildir directory; `description` completes "the local part has …".
    public enum Problem: Sendable, Equatable, CustomStringConvertible {
        case empty
        case slash
        case leadingDot
        case controlCharacter
        case tooLong(limit: Int)

        public var description: String {
            switch self {
            case .empty: "no characters"
            case .slash: "a / in it"
            // `.` and `..` climb out of the root; other dot names are hidden from Maildir readers.
            case .leadingDot: "a leading dot"
            case .controlCharacter: "a control character in it"
            case .tooLong(let limit): "more than \(limit) octets"
            }
        }
    }

    /// What makes `localPart` unusable as a mailbox name, or `nil` when it is fine.
    public static func problem(localPart: String) -> Problem? {
        problem(localPart, limit: maximumLocalPartOctets)
    }

    /// What makes `name` unusable as one directory name of at most `limit` octets, or `nil`.
    public static func problem(_ name: String, limit: Int) -> Problem? {
        let bytes = name.utf8
        guard let first = bytes.first else { return .empty }
        if first == UInt8(ascii: ".") { return .leadingDot }
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == UInt8(ascii: "/") { return .slash }
            if byte < 0x20 || byte == 0x7F { return .controlCharacter }
            // C1 controls, U+0080 through U+009F, are C2 80 through C2 9F in UTF-8.
            if previous == 0xC2 && (0x80...0x9F).contains(byte) { return .controlCharacter }
            previous = byte
        }
        return bytes.count > limit ? .tooLong(limit: limit) : nil
    }
}
