/// One SMTP command line, parsed. The verb is case-insensitive (RFC 5321 §2.4).
public enum SMTPCommand: Sendable, Equatable {
    case hello(extended: Bool, name: String)
    case mail(argument: String)
    case recipient(argument: String)
    case data, reset, noop, quit, help
    case verify(String)
    case etrn(String)
    /// RFC 3207.
    case startTLS
    /// A known verb with arguments it cannot have, or missing ones it needs.
    case malformed
    case unknown(String)
    /// A line over RFC 5321 §4.5.3.1.4's 512 octets; its text was skipped.
    case tooLong
    /// A line holding a NUL byte.
    case nulByte
    /// A line with 8-bit bytes: they need SMTPUTF8 (RFC 6531), which is not offered.
    case eightBit

    /// Parses a command line as it came off the wire, without its CRLF: bytes no command may hold are a
    /// command of their own, so the session answers and counts them like any other.
    public init(bytes: [UInt8]) {
        if bytes.contains(0) {
            self = .nulByte
        } else if bytes.contains(where: { $0 >= 0x80 }) {
            self = .eightBit
        } else {
            self.init(line: String(decoding: bytes, as: UTF8.self))
        }
    }

    /// Parses a command line without its CRLF.
    public init(line: String) {
        let verbEnd = line.firstIndex(of: " ") ?? line.endIndex
        let verb = line[..<verbEnd].uppercased()
        let rest = String(line[verbEnd...]).trimmingWhitespace()
        switch verb {
        case "HELO", "EHLO":
            self = rest.isEmpty ? .malformed : .hello(extended: verb == "EHLO", name: rest)
        case "MAIL":
            self = SMTPCommand.argument(after: "FROM:", in: rest).map { .mail(argument: $0) } ?? .malformed
        case "RCPT":
            self = SMTPCommand.argument(after: "TO:", in: rest).map { .recipient(argument: $0) } ?? .malformed
        case "DATA": self = rest.isEmpty ? .data : .malformed
        case "RSET": self = rest.isEmpty ? .reset : .malformed
        case "NOOP": self = .noop
        case "QUIT": self = rest.isEmpty ? .quit : .malformed
        case "HELP": self = .help
        case "VRFY": self = .verify(rest)
        case "ETRN": self = rest.isEmpty ? .malformed : .etrn(rest)
        case "STARTTLS": self = rest.isEmpty ? .startTLS : .malformed
        default: self = .unknown(verb)
        }
    }

    /// The text after `FROM:` or `TO:` (case-insensitive), tolerating a space after the colon.
    private static func argument(after keyword: String, in rest: String) -> String? {
        guard rest.uppercased().hasPrefix(keyword) else { return nil }
        let argument = String(rest.dropFirst(keyword.count)).trimmingWhitespace()
        return argument.isEmpty ? nil : argument
    }
}
