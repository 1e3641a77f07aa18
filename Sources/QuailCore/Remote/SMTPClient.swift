/// One SMTP transaction for one message to one server, the client side of RFC 5321: greeting, EHLO (HELO
/// fallback), MAIL with SIZE when offered, one RCPT per recipient, DATA, QUIT. qmail: qmail-remote's smtp()
///
/// With PIPELINING offered (RFC 2920), MAIL, every RCPT and DATA go out in one write and their replies are read
/// back in the same order, so each result stays tied to its recipient and a message costs one round trip
/// before its content instead of two plus one per recipient.
public struct SMTPClient {
    /// Our name for EHLO/HELO: `control/me`.
    public var me: String
    /// The envelope sender as spooled; `#@[]` (quail's double-bounce sender) goes out as `<>`.
    public var sender: String
    public var recipients: [String]
    /// The message as spooled, LF line ends.
    public var message: [UInt8]
    /// What to ask of this host's TLS; nil: cleartext (`none`).
    public var tls: TLSPolicy?

    /// quail's sender for double bounces, as qmail spells it; on the wire it is the null path.
    public static let doubleBounceSender = "#@[]"

    public init(me: String, sender: String, recipients: [String], message: [UInt8]) {
        self.me = me
        self.sender = sender
        self.recipients = recipients
        self.message = message
    }

    /// How a conversation with one server ended.
    public enum Outcome: Sendable, Equatable {
        /// The server never spoke SMTP past its greeting (closed, timed out, 4xx or 5xx greeting): try the next.
        case unreachable(String)
        /// The server spoke SMTP: one result per recipient, in order. No other host is tried.
        case spoke([DeliveryResult])
        /// The TLS handshake failed at level `may`: the same host is tried again in cleartext.
        case cleartextRetry(String)
    }

    /// Runs the conversation on `transport`; `host` names the server in texts of our own.
    public func run(on transport: some SMTPTransport, host: String) -> Outcome {
        let (outcome, kept) = runKeeping(on: transport, host: host)
        if kept != nil { quit(transport) }
        return outcome
    }

    /// The same, but a session that ended its transaction cleanly is left open for another one instead of
    /// being ended with QUIT: its EHLO keywords come back with the outcome (nil when it was closed).
    public func runKeeping(on transport: some SMTPTransport, host: String) -> (Outcome, extensions: Set<String>?) {
        let extensions: Set<String>
        switch greet(on: transport, host: host) {
        case .ready(let offered): extensions = offered
        case .ended(let outcome): return (outcome, nil)
        }
        let (results, end) = transaction(on: transport, extensions: extensions, host: host, reused: false)
        if end == .closing { quit(transport) }
        return (.spoke(results), end == .reusable ? extensions : nil)
    }

    /// One more transaction on a session kept open by an earlier delivery (`runKeeping`), with the keywords its
    /// EHLO offered; it starts with RSET, as Postfix's client does, since the last transaction may have ended
    /// before DATA. `nil` when the session failed, or showed it is out of step with us, before the message's
    /// content went out: nothing was delivered on it, and a fresh connection takes the message (DESIGN.md,
    /// "No process tricks").
    public func reuse(_ transport: some SMTPTransport, extensions: Set<String>, host: String)
        -> (results: [DeliveryResult], extensions: Set<String>?)?
    {
        let (results, end) = transaction(on: transport, extensions: extensions, host: host, reused: true)
        if end == .abandoned { return nil }
        if end == .closing { quit(transport) }
        return (results, end == .reusable ? extensions : nil)
    }

    private enum Greeting {
        /// Past EHLO (or HELO), with the keywords offered.
        case ready(Set<String>)
        /// The conversation is over already (and QUIT sent where it could be).
        case ended(Outcome)
    }

    /// The greeting and EHLO, HELO when EHLO is not known.
    private func greet(on transport: some SMTPTransport, host: String) -> Greeting {
        let greeting: ServerReply
        do {
            greeting = try transport.readReply()
        } catch {
            return .ended(.unreachable("\(error)"))
        }
        guard greeting.isPositive else {
            quit(transport)
            return .ended(.unreachable("greeting: \(greeting)"))
        }
        do {
            var hello = try command(transport, "EHLO \(me)")
            if hello.isPositive { return try secure(transport, extensions: hello.extensions, host: host) }
            // A 421 says the server is going away: no host for now, and the next MX may take the mail.
            if hello.code == 421 {
                quit(transport)
                return .ended(.unreachable("EHLO: \(hello)"))
            }
            if !hello.isTemporaryFailure {
                // RFC 5321 §3.2: a server that does not know EHLO answers 5xx; HELO is the old way in.
                hello = try command(transport, "HELO \(me)")
                if hello.isPositive { return try secure(transport, extensions: [], host: host) }
            }
            quit(transport)
            return .ended(.spoke(recipients.map { _ in .deferred(RemoteReply.nameRejected(host, hello)) }))
        } catch {
            return .ended(.spoke(recipients.map { _ in .deferred(RemoteReply.connectionLost(host, error)) }))
        }
    }

    /// STARTTLS per `tls` after a positive EHLO (or HELO, which offers nothing): the keywords the session goes
    /// on with, or how it ended. A host that cannot give the TLS its level requires is unreachable for this
    /// delivery (a temporary failure, the next host is tried); at `may` a refused STARTTLS goes on in cleartext
    /// and a failed handshake is retried on a new connection in cleartext, as Postfix does.
    private func secure(_ transport: some SMTPTransport, extensions: Set<String>, host: String) throws(RemoteConnectionError) -> Greeting {
        guard let tls, tls.level > .none else { return .ready(extensions) }
        guard extensions.contains("STARTTLS") else {
            guard tls.level < .encrypt else {
                quit(transport)
                return .ended(.unreachable(RemoteReply.tlsNotOffered(host, tls.level)))
            }
            return .ready(extensions)
        }
        let reply = try command(transport, "STARTTLS")
        guard reply.code == 220 else {
            guard tls.level < .encrypt else {
                quit(transport)
                return .ended(.unreachable(RemoteReply.tlsRefused(host, reply)))
            }
            return .ready(extensions)
        }
        do {
            try transport.startTLS(tls.context, serverName: tls.serverName)
        } catch {
            // The connection is in no state to go on: nothing more is said on it.
            return .ended(tls.level == .may ? .cleartextRetry("\(error)") : .unreachable("\(error)"))
        }
        if tls.level == .verify, let failure = transport.tls?.verificationFailure {
            quit(transport)
            return .ended(.unreachable(RemoteReply.tlsUnverified(host, failure)))
        }
        // RFC 3207 §4.2: everything learnt before the handshake is forgotten, the keywords too.
        let hello = try command(transport, "EHLO \(me)")
        guard hello.isPositive else {
            quit(transport)
            return .ended(.spoke(recipients.map { _ in .deferred(RemoteReply.nameRejected(host, hello)) }))
        }
        return .ready(hello.extensions)
    }

    /// How a session stands after a transaction.
    private enum SessionEnd {
        /// Every reply read, none a 421: another transaction may follow.
        case reusable
        /// The server said 421: it is closing the session, and QUIT is all that is left to say.
        case closing
        /// The connection failed: nothing more can be said on it.
        case broken
        /// On a reused session, a reply out of step with us or a failed connection ended the transaction before
        /// the content went out: nothing was delivered, and nothing more may be said on this session.
        case abandoned
    }

    /// A recipient that goes out: its index in `recipients` and its text in RCPT TO.
    private typealias Outgoing = (index: Int, mailbox: String)

    /// How far the envelope got.
    private enum Envelope {
        /// DATA got its 354: these recipients were accepted and the content follows.
        case accepted([Int])
        /// The transaction ends here, every result known.
        case ended
        /// A reply showed the reused session out of step with us (`isOutOfStep`).
        case outOfStep
    }

    /// MAIL to the end of DATA on a greeted session, after RSET on a `reused` one; no QUIT. The results, and how
    /// the session stands.
    private func transaction(on transport: some SMTPTransport, extensions: Set<String>, host: String, reused: Bool)
        -> (results: [DeliveryResult], end: SessionEnd)
    {
        var results = [DeliveryResult?](repeating: nil, count: recipients.count)
        var contentSent = false
        let watched = WatchingTransport(transport)
        do {
            let inStep = try transact(on: watched, extensions: extensions, reused: reused, results: &results, contentSent: &contentSent)
            if !inStep { return ([], .abandoned) }
        } catch {
            if reused && !contentSent { return ([], .abandoned) }
            let text = RemoteReply.connectionLost(host, error)
            return (results.map { $0 ?? .deferred(text) }, .broken)
        }
        let text = RemoteReply.connectionLost(host, .closed)
        return (results.map { $0 ?? .deferred(text) }, watched.closing ? .closing : .reusable)
    }

    /// Fills `results` as outcomes become final, so that a lost connection leaves exactly the unfinished
    /// recipients empty; `contentSent` once the message itself starts to go out. False when a reply on a
    /// `reused` session showed it out of step: the transaction is abandoned before the content.
    private func transact(on transport: some SMTPTransport, extensions: Set<String>, reused: Bool,
                          results: inout [DeliveryResult?], contentSent: inout Bool) throws(RemoteConnectionError) -> Bool
    {
        // Only a valid RFC 5321 path goes out: an address that is not one (a line break, an unquoted space or
        // `>`) would smuggle a command or parameters of its own into the session.
        let path = sender == Self.doubleBounceSender || sender.isEmpty ? "" : Address.mailboxText(sender)
        guard let path else {
            results = results.map { _ in .failed(RemoteReply.unsafeAddress(sender)) }
            return true
        }
        let payload = DataEncoder.encode(message)
        // RFC 1870: the size declared is that of the message as transmitted, without the final ".".
        let size = extensions.contains("SIZE") ? " SIZE=\(payload.count - 3)" : ""
        let mailLine = "MAIL FROM:<\(path)>\(size)\r\n"
        var sendable: [Outgoing] = []
        for (index, recipient) in recipients.enumerated() {
            if let mailbox = Address.mailboxText(recipient) {
                sendable.append((index, mailbox))
            } else {
                results[index] = .failed(RemoteReply.unsafeAddress(recipient))
            }
        }
        guard !sendable.isEmpty else { return true }
        let envelope = extensions.contains("PIPELINING")
            ? try pipelinedEnvelope(transport, mailLine, sendable, reused, &results)
            : try lockstepEnvelope(transport, mailLine, sendable, reused, &results)
        switch envelope {
        case .outOfStep: return false
        case .ended: return true
        case .accepted(let accepted):
            contentSent = true
            try transport.send(payload)
            let final = try transport.readReply()
            for index in accepted { results[index] = final.result() }
            return true
        }
    }

    /// On a reused session, whether `reply` shows the session out of step with us: any failure before the first
    /// RCPT reply (to RSET or MAIL), or a 503 (bad sequence of commands) after it. Such a reply says nothing about
    /// the message; a nested MAIL after a transaction that ended early gets a 503 from Postfix and aiosmtpd alike.
    private static func isOutOfStep(_ reply: ServerReply, beforeRecipients: Bool) -> Bool {
        beforeRecipients ? !(200..<300).contains(reply.code) : reply.code == 503
    }

    /// RSET on a `reused` session, then MAIL, RCPT per recipient and DATA, each waiting for its reply. `.ended`
    /// leaves every outcome in `results`.
    private func lockstepEnvelope(_ transport: some SMTPTransport, _ mailLine: String, _ sendable: [Outgoing], _ reused: Bool,
                                  _ results: inout [DeliveryResult?]) throws(RemoteConnectionError) -> Envelope {
        if reused, Self.isOutOfStep(try command(transport, "RSET"), beforeRecipients: true) { return .outOfStep }
        try transport.send(Array(mailLine.utf8))
        let mail = try transport.readReply()
        if reused, Self.isOutOfStep(mail, beforeRecipients: true) { return .outOfStep }
        guard mail.isPositive else {
            for (index, _) in sendable { results[index] = mail.result() }
            return .ended
        }
        var accepted: [Int] = []
        for (index, mailbox) in sendable {
            let reply = try command(transport, "RCPT TO:<\(mailbox)>")
            if reused, Self.isOutOfStep(reply, beforeRecipients: false) { return .outOfStep }
            if reply.isPositive { accepted.append(index) } else { results[index] = reply.result() }
        }
        guard !accepted.isEmpty else { return .ended }
        let data = try command(transport, "DATA")
        if reused, Self.isOutOfStep(data, beforeRecipients: false) { return .outOfStep }
        return started(data, accepted, &results)
    }

    /// The same in one write (RFC 2920; RSET may lead the group, §3.1); every reply is read, in order, whatever
    /// came before it, unless one shows the session out of step. A DATA that got 354 although no recipient was
    /// accepted is ended with a lone dot, as RFC 2920 §3.1 asks.
    private func pipelinedEnvelope(_ transport: some SMTPTransport, _ mailLine: String, _ sendable: [Outgoing], _ reused: Bool,
                                   _ results: inout [DeliveryResult?]) throws(RemoteConnectionError) -> Envelope {
        var batch = reused ? "RSET\r\n" + mailLine : mailLine
        for (_, mailbox) in sendable { batch += "RCPT TO:<\(mailbox)>\r\n" }
        batch += "DATA\r\n"
        try transport.send(Array(batch.utf8))
        if reused, Self.isOutOfStep(try transport.readReply(), beforeRecipients: true) { return .outOfStep }
        let mail = try transport.readReply()
        if reused, Self.isOutOfStep(mail, beforeRecipients: true) { return .outOfStep }
        var accepted: [Int] = []
        for (index, _) in sendable {
            let reply = try transport.readReply()
            if !mail.isPositive {
                results[index] = mail.result()
            } else if reused, Self.isOutOfStep(reply, beforeRecipients: false) {
                return .outOfStep
            } else if reply.isPositive {
                accepted.append(index)
            } else {
                results[index] = reply.result()
            }
        }
        let data = try transport.readReply()
        if accepted.isEmpty {
            if data.code == 354 {
                try transport.send(Array(".\r\n".utf8))
                _ = try transport.readReply()
            }
            return .ended
        }
        if reused, Self.isOutOfStep(data, beforeRecipients: false) { return .outOfStep }
        return started(data, accepted, &results)
    }

    /// `accepted` when DATA got its 354; otherwise their results are DATA's reply and the transaction ends.
    private func started(_ data: ServerReply, _ accepted: [Int], _ results: inout [DeliveryResult?]) -> Envelope {
        guard data.code == 354 else {
            for index in accepted { results[index] = data.isPositive ? .deferred("\(data)") : data.result() }
            return .ended
        }
        return .accepted(accepted)
    }

    /// Sends one command line and reads its reply.
    private func command(_ transport: some SMTPTransport, _ line: String) throws(RemoteConnectionError) -> ServerReply {
        try transport.send(Array((line + "\r\n").utf8))
        return try transport.readReply()
    }

    /// Says goodbye; the outcome is settled already, so whatever goes wrong now changes nothing.
    public func quit(_ transport: some SMTPTransport) {
        _ = try? command(transport, "QUIT")
    }
}

/// Passes a session's traffic through, noting a 421 (the server is closing).
final class WatchingTransport<Wrapped: SMTPTransport>: SMTPTransport {
    let wrapped: Wrapped
    private(set) var closing = false

    init(_ wrapped: Wrapped) { self.wrapped = wrapped }

    func send(_ bytes: [UInt8]) throws(RemoteConnectionError) { try wrapped.send(bytes) }

    func readReply() throws(RemoteConnectionError) -> ServerReply {
        let reply = try wrapped.readReply()
        if reply.code == 421 { closing = true }
        return reply
    }
}

/// What a delivery asks of one host's TLS (`control/tlsdestinations`, MTA-STS).
public struct TLSPolicy {
    public var level: TLSLevel
    public var context: TLSContext
    /// The name the certificate must carry, and the SNI: the MX host's or the relay's name.
    public var serverName: String

    public init(level: TLSLevel, context: TLSContext, serverName: String) {
        self.level = level
        self.context = context
        self.serverName = serverName
    }
}
