/// The server side of one SMTP conversation, with no I/O: feed it commands, perform what it returns.
/// Check first, mutate after (OpenSMTPD's habit); every transition is in `handle`.
public struct SMTPSession: Sendable {
    /// Where the conversation is; a transaction's data lives in its case, so impossible states cannot be built.
    public enum State: Sendable, Equatable {
        case greeted
        case ready(helo: String, extended: Bool)
        case mail(helo: String, extended: Bool, sender: String)
        case recipients(helo: String, extended: Bool, sender: String, recipients: [String])
    }

    /// What the connection driver must do next.
    public enum Action: Sendable, Equatable {
        case reply(SMTPReply)
        /// Reply, then close the connection.
        case close(SMTPReply)
        /// Reply 354 and read the message; then call `finishData`.
        case receiveData(sender: String, recipients: [String])
        /// Ask quail-send to flush `domain`, then reply per RFC 1985.
        case etrn(domain: String)
        /// RFC 3207: reply 220, forget what the client sent after STARTTLS, run the handshake, then call
        /// `startedTLS` (or close when the handshake fails).
        case startTLS
    }

    public private(set) var state = State.greeted
    public private(set) var badCommands = 0
    /// Whether STARTTLS may be offered: `servercert.pem` is there (the driver decides).
    public var offersTLS = false
    /// The session runs over TLS; STARTTLS is offered no more.
    public private(set) var isEncrypted = false
    let config: Configuration
    let policy: RecipientPolicy

    /// RFC 5321 §4.5.3.1.8 asks servers to take at least 100 recipients.
    public static let maximumRecipients = 100
    /// Bad commands tolerated before the session is closed (a client that is not talking SMTP).
    public static let maximumBadCommands = 10

    public init(config: Configuration, relayClient: Bool) {
        self.config = config
        policy = RecipientPolicy(config: config, relayClient: relayClient)
    }

    /// The HELO name and whether it was EHLO, once given.
    public var hello: (name: String, extended: Bool)? {
        switch state {
        case .greeted: nil
        case .ready(let helo, let extended), .mail(let helo, let extended, _), .recipients(let helo, let extended, _, _):
            (helo, extended)
        }
    }

    public mutating func handle(_ command: SMTPCommand) -> Action {
        let action = respond(to: command)
        if case .reply(let reply) = action, reply.isPermanentFailure, reply.code != 550, reply.code != 553, reply.code != 552 {
            badCommands += 1
            if badCommands > SMTPSession.maximumBadCommands { return .close(.tooManyErrors) }
        }
        return action
    }

    private mutating func respond(to command: SMTPCommand) -> Action {
        switch command {
        case .hello(let extended, let name):
            state = .ready(helo: name, extended: extended)
            return .reply(extended ? ehloReply(name) : SMTPReply(250, "", config.me))
        case .mail(let argument): return mail(argument)
        case .recipient(let argument): return recipient(argument)
        case .data:
            switch state {
            case .recipients(let helo, let extended, let sender, let recipients):
                state = .ready(helo: helo, extended: extended)
                return .receiveData(sender: sender, recipients: recipients)
            case .mail: return .reply(.recipientFirst)
            default: return .reply(.mailFirst)
            }
        case .reset:
            if let hello { state = .ready(helo: hello.name, extended: hello.extended) }
            return .reply(.ok)
        case .noop: return .reply(.ok)
        case .quit: return .close(.closing(config.me))
        case .help: return .reply(.help)
        case .verify: return .reply(.cannotVerify)
        case .etrn(let node): return etrn(node)
        case .startTLS: return startTLS()
        case .malformed: return .reply(.syntaxError)
        case .unknown: return .reply(.unknownCommand)
        case .tooLong: return .reply(.lineTooLong)
        case .nulByte: return .reply(.nulInCommand)
        case .eightBit: return .reply(.eightBitCommand)
        }
    }

    private func ehloReply(_ name: String) -> SMTPReply {
        let size = config.databytes > 0 ? "SIZE \(config.databytes)" : "SIZE"
        let tls = offersTLS && !isEncrypted ? ["STARTTLS"] : []
        return SMTPReply(250, "", lines: ["\(config.me) hello \(name)", "PIPELINING", size, "8BITMIME", "ENHANCEDSTATUSCODES", "ETRN"] + tls)
    }

    private func startTLS() -> Action {
        guard offersTLS else { return .reply(.unknownCommand) }
        if isEncrypted { return .reply(.tlsAlreadyActive) }
        switch state {
        case .greeted: return .reply(.heloFirst)
        case .mail, .recipients: return .reply(.tlsInTransaction)
        case .ready: return .startTLS
        }
    }

    /// The handshake succeeded: the client starts again with EHLO (RFC 3207 §4.2), and nothing said before counts.
    public mutating func startedTLS() {
        state = .greeted
        isEncrypted = true
    }

    private mutating func mail(_ argument: String) -> Action {
        guard case .ready(let helo, let extended) = state else {
            if case .greeted = state { return .reply(.heloFirst) }
            return .reply(.nestedMail)
        }
        guard let path = MailPath(argument), path.address.isEmpty || Address(path.address) != nil else { return .reply(.syntaxError) }
        for (key, value) in path.parameters {
            switch key {
            case "SIZE":
                guard let size = Int(value) else { return .reply(.syntaxError) }
                if config.databytes > 0 && size > config.databytes { return .reply(.sizeExceeded(config.databytes)) }
            case "BODY":
                guard ["7BIT", "8BITMIME"].contains(value.uppercased()) else { return .reply(.unknownParameter) }
            default:
                return .reply(.unknownParameter)
            }
        }
        state = .mail(helo: helo, extended: extended, sender: path.address)
        return .reply(.senderOK)
    }

    private mutating func recipient(_ argument: String) -> Action {
        let (helo, extended, sender, recipients): (String, Bool, String, [String])
        switch state {
        case .mail(let h, let e, let s): (helo, extended, sender, recipients) = (h, e, s, [])
        case .recipients(let h, let e, let s, let r): (helo, extended, sender, recipients) = (h, e, s, r)
        default: return .reply(.mailFirst)
        }
        guard var path = MailPath(argument), !path.address.isEmpty, path.parameters.isEmpty else {
            return .reply(MailPath(argument)?.parameters.isEmpty == false ? .unknownParameter : .syntaxError)
        }
        // RFC 5321 §4.5.1: "Postmaster" without a domain must be accepted; it is this host's postmaster.
        if path.address.lowercased() == "postmaster" { path.address = "postmaster@\(config.me)" }
        // qmail checks badmailfrom at RCPT, so the client learns nothing more from MAIL.
        if policy.isBadSender(sender) { return .reply(.badMailFrom) }
        let isOurPostmaster = path.address == "postmaster@\(config.me)"
        if !isOurPostmaster, let refusal = policy.refusal(for: path) { return .reply(refusal) }
        guard recipients.count < SMTPSession.maximumRecipients else { return .reply(.tooManyRecipients) }
        let normalized = Address(path.address)?.description ?? path.address
        state = .recipients(helo: helo, extended: extended, sender: sender, recipients: recipients + [normalized])
        return .reply(.recipientOK)
    }

    private func etrn(_ node: String) -> Action {
        guard hello != nil else { return .reply(.heloFirst) }
        var domain = node
        // RFC 1985: "@domain" asks for the domain and its subdomains; "#queue" names a queue we do not have.
        if domain.hasPrefix("@") { domain.removeFirst() }
        guard !domain.hasPrefix("#"), !domain.isEmpty, config.rcpthosts.contains(domain) else { return .reply(.etrnNotAllowed(node)) }
        return .etrn(domain: Address.normalizedDomain(domain))
    }
}
