/// The SMTP session quail-mxcheck holds with a backup: greeting, EHLO (HELO fallback), one MAIL, one RCPT
/// per probe, then RSET and QUIT. DATA is never sent, so nothing is ever queued or relayed.
public struct BackupConversation: Sendable {
    /// Our name for EHLO/HELO: `control/me`.
    public var me: String
    /// The envelope sender: `postmaster@me`, a real address the backup's admin can answer.
    public var sender: String
    public var probes: [BackupProbe]

    public init(me: String, probes: [BackupProbe]) {
        self.me = me
        self.sender = "postmaster@\(me)"
        self.probes = probes
    }

    /// What the backup answered.
    public struct Transcript: Sendable, Equatable {
        /// One reply per probe, in order, for as many probes as were asked.
        public var replies: [ServerReply]
        /// Why the session stopped early (greeting, EHLO or MAIL refused, connection lost); `nil` if it did not.
        public var failure: String?

        public init(replies: [ServerReply], failure: String? = nil) {
            self.replies = replies
            self.failure = failure
        }
    }

    /// Runs the session on `transport`, which must not have read the greeting yet.
    public func run(on transport: some SMTPTransport) -> Transcript {
        var replies: [ServerReply] = []
        do {
            let greeting = try transport.readReply()
            guard greeting.isPositive else { return stop(transport, replies, "greeting: \(greeting)") }
            var hello = try command(transport, "EHLO \(me)")
            // RFC 5321 §3.2: a server that does not know EHLO answers 5xx; HELO is the old way in.
            if !hello.isPositive && !hello.isTemporaryFailure { hello = try command(transport, "HELO \(me)") }
            guard hello.isPositive else { return stop(transport, replies, "HELO \(me): \(hello)") }
            let mail = try command(transport, "MAIL FROM:<\(sender)>")
            guard mail.isPositive else { return stop(transport, replies, "MAIL FROM:<\(sender)>: \(mail)") }
            for probe in probes {
                replies.append(try command(transport, "RCPT TO:<\(probe.recipient)>"))
            }
            _ = try command(transport, "RSET")
        } catch {
            return Transcript(replies: replies, failure: "connection lost: \(error)")
        }
        _ = try? command(transport, "QUIT")
        return Transcript(replies: replies)
    }

    /// Ends a session the backup refused, politely, and says why.
    private func stop(_ transport: some SMTPTransport, _ replies: [ServerReply], _ why: String) -> Transcript {
        _ = try? command(transport, "QUIT")
        return Transcript(replies: replies, failure: why)
    }

    /// Sends one command line and reads its reply.
    private func command(_ transport: some SMTPTransport, _ line: String) throws(RemoteConnectionError) -> ServerReply {
        try transport.send(Array((line + "\r\n").utf8))
        return try transport.readReply()
    }
}
