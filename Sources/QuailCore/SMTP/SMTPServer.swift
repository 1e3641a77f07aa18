import Glibc

/// One SMTP connection on a pair of descriptors: reads commands, asks `SMTPSession`, performs its actions.
/// qmail: qmail-smtpd.
public final class SMTPServer {
    private var input: SMTPInput
    private let output: Int32
    private let context: ConnectionContext
    private let home: QuailHome
    private var pending: [UInt8] = []
    private var log: SMTPLog
    /// The session's TLS once STARTTLS succeeded; every reply goes through it.
    private var tls: TLSConnection?
    /// How long a write may wait for the client: `timeoutsmtpd`.
    private var writeTimeout = 300
    /// Told once, when the session ends and before its last reply goes out: whoever counts open sessions (the
    /// listener) hears of the end before the client can see it and connect again.
    private let ended: () -> Void

    /// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets, CRLF included.
    public static let commandLineLimit = 512
    /// The slowest DATA rate tolerated, in bytes per second: each byte received moves the DATA deadline
    /// on by 1/rate seconds, so a client dripping a byte at a time still meets `timeoutsmtpd`.
    public static let minimumDataRate = 1024

    public init(home: QuailHome, context: ConnectionContext, input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO,
                ended: @escaping () -> Void = {}) {
        self.input = SMTPInput(fd: input)
        self.ended = ended
        self.output = output
        self.context = context
        self.home = home
        log = SMTPLog(remoteIP: context.remoteIP, started: MailDate.now())
    }

    /// Serves the connection to its end; returns the exit code.
    public func run() -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        let config: Configuration
        do { config = try Configuration(home: home, only: Configuration.smtpdFiles) } catch {
            log.line("refused: \(error)")
            ended()
            send(.configurationProblem, flush: true)
            return 111
        }
        log.line("connect")
        // A client that stops reading must not hold the session either: writes give up after timeoutsmtpd.
        var limit = timeval(tv_sec: config.timeoutSMTPD, tv_usec: 0)
        setsockopt(output, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        writeTimeout = config.timeoutSMTPD
        var session = SMTPSession(config: config, relayClient: context.relayClient)
        // Looked at per connection, so a renewed certificate serves the next one (read at STARTTLS).
        session.offersTLS = access(certificatePath, R_OK) == 0
        send(.greeting(config.smtpGreeting), flush: true)
        while true {
            let deadline = MailDate.now() + config.timeoutSMTPD
            let command: SMTPCommand
            switch input.readLine(limit: SMTPServer.commandLineLimit, deadline: deadline) {
            case .endOfInput:
                return end(nil, "client closed the connection", session)
            case .timeout:
                return end(.timeout, "timeout", session)
            case .bareLineEnding:
                return end(.bareLineEnding, "bare LF or CR in a command", session)
            case .tooLong:
                command = .tooLong
            case .line(let bytes):
                command = SMTPCommand(bytes: bytes)
            }
            let action = session.handle(command)
            if case .recipient = command, case .reply(let reply) = action, reply.code >= 400 { log.refusedRecipients += 1 }
            switch action {
            case .reply(let reply):
                send(reply, flush: !input.hasCompleteLine)
            case .close(let reply):
                return end(reply, "\(reply.code)", session)
            case .receiveData(let sender, let recipients):
                guard receiveData(from: sender, to: recipients, session: session, config: config) else { return 0 }
            case .etrn(let domain):
                send(etrnReply(domain), flush: !input.hasCompleteLine)
            case .startTLS:
                guard startTLS(&session, config: config) else { return end(nil, "TLS handshake failed", session) }
            }
        }
    }

    private var certificatePath: String { home.control.path + "/servercert.pem" }

    /// STARTTLS: 220, the plaintext the client sent after it dropped, the handshake within `timeoutsmtpd`, and
    /// the session as new. A certificate that does not load is a 454 and the session goes on in cleartext;
    /// false when the handshake failed (the connection is in no state to go on).
    private func startTLS(_ session: inout SMTPSession, config: Configuration) -> Bool {
        let context: TLSContext
        do { context = try TLSContext.server(certificateFile: certificatePath) } catch {
            log.line("STARTTLS refused: \(error)")
            send(.tlsUnavailable, flush: true)
            return true
        }
        send(.readyForTLS, flush: true)
        input.discardUnread()
        do {
            let connection = try TLSConnection(context, readFD: input.fd, writeFD: output)
            try connection.accept(deadline: .now + .seconds(config.timeoutSMTPD))
            tls = connection
            input.tls = connection
        } catch {
            log.line("STARTTLS: \(error)")
            return false
        }
        session.startedTLS()
        log.tls = "\(tls!.version):\(tls!.cipher)"
        log.line("tls \(log.tls!)")
        return true
    }

    /// Reads the message after 354 and queues it; false when the connection must close.
    private func receiveData(from sender: String, to recipients: [String], session: SMTPSession, config: Configuration) -> Bool {
        send(.startData, flush: true)
        // Committed in this process when it owns the queue; else the queue program or $QUAILQUEUE (QueueClient).
        let submission = QueueClient(home: home, inSession: true).begin()
        let queueProcess = submission.pid
        submission.write(Array(receivedLine(session: session, config: config).utf8))
        var decoder = DataDecoder(byteLimit: config.databytes)
        let started = MailDate.now()
        while true {
            let outcome = decoder.feed(input.unread)
            switch outcome {
            case .finished(let consumed):
                input.consume(consumed)
                submission.write(decoder.takeOutput())
                let reply = finishData(decoder, submission, Envelope(sender: sender, recipients: recipients), config)
                send(reply, flush: !input.hasCompleteLine)
                log.message(reply, queueProcess: queueProcess, helo: session.hello?.name, sender: sender, recipients: recipients,
                            bytes: decoder.messageBytes)
                return true
            case .bareLineEnding:
                return abandon(submission, reply: .bareLineEnding, "bare LF or CR in DATA", session)
            case .needMore:
                input.consume(input.unread.count)
                submission.write(decoder.takeOutput())
            }
            let deadline = started + config.timeoutSMTPD + decoder.messageBytes / SMTPServer.minimumDataRate
            switch input.fill(deadline: deadline) {
            case .timeout:
                return abandon(submission, reply: .timeout, "timeout in DATA", session)
            case .endOfInput:
                return abandon(submission, reply: nil, "client closed the connection in DATA", session)
            default: continue
            }
        }
    }

    /// Ends a session in the middle of DATA: the queue program gets no envelope, so nothing is queued.
    private func abandon(_ submission: QueueSubmission, reply: SMTPReply?, _ why: String, _ session: SMTPSession) -> Bool {
        submission.abort()
        _ = end(reply, "\(why); nothing queued", session)
        return false
    }

    /// Ends the session: `ended` first, then the last reply, if any, and the summary line; returns the exit code.
    private func end(_ reply: SMTPReply?, _ why: String, _ session: SMTPSession) -> Int32 {
        ended()
        if let reply { send(reply, flush: true) }
        tls?.shutdown()
        log.end(why, session)
        return 0
    }

    /// The reply once the end of DATA came: a refusal noted on the way, or the queue program's verdict.
    private func finishData(_ decoder: DataDecoder, _ submission: QueueSubmission, _ envelope: Envelope, _ config: Configuration) -> SMTPReply {
        let refusal: SMTPReply? =
            if decoder.tooBig { .sizeExceeded(config.databytes) }
            else if decoder.lineTooLong { .dataLineTooLong }
            else if decoder.nulByte { .nulInData }
            else if decoder.receivedLines > 100 { .looping }
            else { nil }
        if let refusal {
            submission.abort()
            return refusal
        }
        let queueProcess = submission.pid
        let code = submission.commit(envelope)
        return code == 0 ? .accepted(queueProcess: queueProcess) : .queueFailed(exitCode: code)
    }

    /// `Received:` in qmail-smtpd's shape: HELO name, the client's host and IP, us, and the protocol.
    private func receivedLine(session: SMTPSession, config: Configuration) -> String {
        let helo = session.hello?.name ?? "unknown"
        // RFC 3848: ESMTPS when the session is over TLS, with its version and cipher in a comment.
        let protocolName =
            if let tls { "ESMTPS (\(tls.version) \(tls.cipher))" } else if session.hello?.extended == true { "ESMTP" } else { "SMTP" }
        let host = context.remoteHost ?? "unknown"
        return "Received: from \(printable(helo)) (\(printable(host)) [\(context.remoteIP)])\n"
            + "\tby \(config.me) (quail-smtpd) with \(protocolName); \(MailDate.format(MailDate.now()))\n"
    }

    private func printable(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.value < 0x21 || $0.value > 0x7E || $0 == "(" || $0 == ")" ? "?" : Character($0) })
    }

    /// RFC 1985: asks quail-send to flush the domain. A 250 without a count, since counting the messages that
    /// wait for it would cost a read of the whole queue, on any client's request.
    private func etrnReply(_ domain: String) -> SMTPReply {
        QueueTrigger.sendControl(home.queue, QueueControlRequest.etrn(domain: domain).line) ? .etrnStarted(domain) : .etrnUnable(domain)
    }

    private func send(_ reply: SMTPReply, flush: Bool) {
        pending += Array(reply.wire.utf8)
        if flush {
            if let tls {
                try? tls.write(pending, deadline: .now + .seconds(writeTimeout))
            } else {
                try? FileIO.writeAll(output, pending)
            }
            pending.removeAll(keepingCapacity: true)
        }
    }
}

/// quail-smtpd's log on stderr, every line prefixed `quail-smtpd PID REMOTE-IP: `: `connect` when a session
/// starts, one `message` line per message and one `end:` line per session with its counts.
///
/// A message line carries `qp P`, the pid of the process that queued the message (this session's own when it
/// commits itself, else its quail-queue); quail-send logs the same
/// `qp P` in its `info msg N:` line, so `grep 'qp P'` over both logs follows a message from its SMTP client
/// to its `end msg N` (qmail's way: qmail-smtpd's 250 reply, qmail-queue's pid, qmail-send's `info msg`).
struct SMTPLog {
    let prefix: String
    let started: Int
    var messages = 0
    var accepted = 0
    var recipients = 0
    var refusedRecipients = 0
    /// `VERSION:CIPHER` once STARTTLS succeeded.
    var tls: String?

    init(remoteIP: String, started: Int) {
        prefix = "quail-smtpd \(getpid()) \(remoteIP): "
        self.started = started
    }

    func line(_ text: String) { Diagnostics.log(prefix + text) }

    /// `message CODE qp P helo H from <S> to <R>,<R> bytes B`: the reply given at the end of DATA.
    mutating func message(_ reply: SMTPReply, queueProcess: Int32, helo: String?, sender: String, recipients: [String], bytes: Int) {
        messages += 1
        if reply.code == 250 {
            accepted += 1
            self.recipients += recipients.count
        }
        line("message \(reply.code) qp \(queueProcess) helo \(SMTPLog.word(helo)) from <\(sender)> "
             + "to <\(recipients.joined(separator: ">,<"))> bytes \(bytes)" + (tls.map { " tls \($0)" } ?? ""))
    }

    /// `end: WHY; helo H started T seconds S messages M accepted A recipients R refused F bad B`: the session's
    /// summary; B counts the commands that count toward `SMTPSession.maximumBadCommands`.
    func end(_ why: String, _ session: SMTPSession) {
        line("end: \(why); helo \(SMTPLog.word(session.hello?.name)) started \(started) seconds \(MailDate.now() - started) "
             + "messages \(messages) accepted \(accepted) recipients \(recipients) refused \(refusedRecipients) bad \(session.badCommands)"
             + (tls.map { " tls \($0)" } ?? ""))
    }

    /// The client's HELO name as one printable word (`-` when none was given), so the fields stay splittable.
    static func word(_ text: String?) -> String {
        guard let text, !text.isEmpty else { return "-" }
        return String(text.unicodeScalars.map { $0.value < 0x21 || $0.value > 0x7E ? "?" : Character($0) })
    }
}
