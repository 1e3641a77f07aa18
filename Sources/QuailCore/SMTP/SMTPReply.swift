/// One SMTP reply: code, enhanced status code (RFC 3463) and text. Every reply quail-smtpd sends is built
/// here, so the wording lives in one table. qmail: the err_* functions of qmail-smtpd.
public struct SMTPReply: Sendable, Equatable, CustomStringConvertible {
    public var code: Int
    public var enhanced: String
    public var lines: [String]

    public init(_ code: Int, _ enhanced: String, _ lines: String...) {
        self.code = code
        self.enhanced = enhanced
        self.lines = lines
    }

    public init(_ code: Int, _ enhanced: String, lines: [String]) {
        self.code = code
        self.enhanced = enhanced
        self.lines = lines
    }

    /// The reply on the wire: every line but the last with `-`, each ending in CRLF.
    public var wire: String {
        var text = ""
        for (index, line) in lines.enumerated() {
            let separator = index == lines.count - 1 ? " " : "-"
            let status = enhanced.isEmpty ? "" : enhanced + " "
            text += "\(code)\(separator)\(status)\(line)\r\n"
        }
        return text
    }

    public var description: String { "\(code) \(enhanced) \(lines.joined(separator: " / "))" }

    public var isPermanentFailure: Bool { code >= 500 }
    public var isFailure: Bool { code >= 400 }
}

extension SMTPReply {
    public static func greeting(_ name: String) -> SMTPReply { SMTPReply(220, "", "\(name) ESMTP quail") }
    public static func closing(_ name: String) -> SMTPReply { SMTPReply(221, "2.0.0", "\(name) closing connection") }
    public static let ok = SMTPReply(250, "2.0.0", "ok")
    public static let senderOK = SMTPReply(250, "2.1.0", "sender ok")
    public static let recipientOK = SMTPReply(250, "2.1.5", "recipient ok")
    public static let startData = SMTPReply(354, "", "go ahead, end with <CRLF>.<CRLF>")
    public static func accepted(queueProcess: Int32) -> SMTPReply {
        SMTPReply(250, "2.0.0", "ok \(MailDate.now()) qp \(queueProcess)")
    }
    public static let cannotVerify = SMTPReply(252, "2.5.2", "cannot verify that user, but will accept mail and try")
    public static let help = SMTPReply(214, "2.0.0", "quail: see RFC 5321; commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP ETRN")

    public static let mailFirst = SMTPReply(503, "5.5.1", "MAIL first")
    public static let recipientFirst = SMTPReply(503, "5.5.1", "RCPT first")
    public static let nestedMail = SMTPReply(503, "5.5.1", "one MAIL per transaction; RSET first")
    public static let heloFirst = SMTPReply(503, "5.5.1", "HELO or EHLO first")
    public static let syntaxError = SMTPReply(501, "5.5.4", "syntax error in parameters or arguments")
    public static let heloSyntax = SMTPReply(501, "5.5.4", "HELO and EHLO need a host name")
    public static let unknownParameter = SMTPReply(555, "5.5.4", "MAIL or RCPT parameter not recognized")
    public static let unknownCommand = SMTPReply(500, "5.5.1", "command not recognized")
    public static let lineTooLong = SMTPReply(500, "5.5.2", "command line too long (RFC 5321 4.5.3.1.4: 512 octets)")
    public static let eightBitCommand = SMTPReply(500, "5.5.2", "8-bit characters in a command; this server does not offer SMTPUTF8")
    public static let nulInCommand = SMTPReply(500, "5.5.2", "NUL byte in command")
    public static let bareLineEnding = SMTPReply(
        550, "5.5.2", "bare LF or CR received: every line must end with CRLF (RFC 5321 2.3.8); closing connection")

    public static let notOurDomain = SMTPReply(553, "5.7.1", "sorry, that domain isn't in my list of allowed rcpthosts")
    public static let relayTrick = SMTPReply(553, "5.7.1", "sorry, source routes, % and ! addressing and quoted @ are not relayed")
    public static let addressLiteral = SMTPReply(553, "5.7.1", "sorry, I do not accept mail for address literals")
    public static let noSuchUser = SMTPReply(550, "5.1.1", "sorry, no mailbox here by that name")
    public static func badMailboxName(_ problem: MailboxName.Problem) -> SMTPReply {
        SMTPReply(553, "5.1.3", "sorry, that local part cannot name a mailbox here: it has \(problem)")
    }
    public static let mailboxCheckFailed = SMTPReply(451, "4.3.0", "cannot check that mailbox now, try again later")
    public static let badMailFrom = SMTPReply(553, "5.7.1", "sorry, your envelope sender is in my badmailfrom list")
    public static let tooManyRecipients = SMTPReply(452, "4.5.3", "too many recipients for one message; send the rest separately")
    public static func sizeExceeded(_ limit: Int) -> SMTPReply {
        SMTPReply(552, "5.3.4", "sorry, that message size exceeds my databytes limit of \(limit) bytes")
    }
    public static let dataLineTooLong = SMTPReply(554, "5.5.2", "message refused: a line is longer than 1000 octets (RFC 5321 4.5.3.1.6)")
    public static let nulInData = SMTPReply(554, "5.6.0", "message refused: a NUL byte in the data")
    public static let looping = SMTPReply(554, "5.4.6", "too many Received: lines; this message is looping")
    public static func queueFailed(exitCode: Int32) -> SMTPReply {
        let text = QueueFailure.text(forExitCode: exitCode)
        let permanent = QueueFailure.isPermanent(exitCode: exitCode)
        let enhanced = text.split(separator: "#").last.map { String($0.dropLast()) } ?? (permanent ? "5.3.0" : "4.3.0")
        return SMTPReply(permanent ? 554 : 451, enhanced, text)
    }

    public static let readyForTLS = SMTPReply(220, "2.0.0", "ready to start TLS")
    public static let tlsUnavailable = SMTPReply(454, "4.7.0", "TLS not available due to temporary reason")
    public static let tlsAlreadyActive = SMTPReply(503, "5.5.1", "TLS already active")
    public static let tlsInTransaction = SMTPReply(503, "5.5.1", "STARTTLS in a mail transaction; RSET first")

    public static let tooManyConnections = SMTPReply(421, "4.3.2", "too many connections, try again later")
    public static let timeout = SMTPReply(451, "4.4.2", "timeout, closing connection")
    public static let tooManyErrors = SMTPReply(421, "4.7.0", "too many errors, closing connection")
    public static let configurationProblem = SMTPReply(421, "4.3.0", "temporary configuration problem, try again later")

    // RFC 1985 ETRN replies.
    public static func etrnStarted(_ node: String) -> SMTPReply { SMTPReply(250, "2.0.0", "queuing for node \(node) started") }
    public static func etrnUnable(_ node: String) -> SMTPReply { SMTPReply(458, "4.3.0", "unable to queue messages for node \(node)") }
    /// RFC 1985's 459 is temporary, so its status is too (RFC 3463: the class matches the code); X.7.1, delivery
    /// not authorized, because the refusal is this host's policy, not a fault of the mail system.
    public static func etrnNotAllowed(_ node: String) -> SMTPReply {
        SMTPReply(459, "4.7.1", "node \(node) not allowed: not a domain I relay for")
    }
}
