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
    }

    /// Runs the conversation on `transport`; `host` names the server in texts of our own.
    public func run(on transport: some SMTPTransport, host: String) -> Outcome {
        let greeting: ServerReply
        do {
            greeting = try transport.readReply()
        } catch {
            return .unreachable("\(error)")
        }
        guard greeting.isPositive else {
            quit(transport)
            return .unreachable("greeting: \(greeting)")
        }
        var results = [DeliveryResult?](repeating: nil, count: recipients.count)
        do {
            try transact(on: transport, host: host, results: &results)
        } catch {
            let text = RemoteReply.connectionLost(host, error)
            return .spoke(results.map { $0 ?? .deferred(text) })
        }
        return .spoke(results.map { $0 ?? .deferred(RemoteReply.connectionLost(host, .closed)) })
    }

    /// Everything after the greeting; fills `results` as outcomes become final, so that a lost connection
    /// leaves exactly the unfinished recipients empty.
    private func transact(on transport: some SMTPTransport, host: String, results: inout [DeliveryResult?])
        throws(RemoteConnectionError)
    {
        var extensions: Set<String> = []
        var hello = try command(transport, "EHLO \(me)")
        if hello.isPositive {
            extensions = hello.extensions
        } else if !hello.isTemporaryFailure {
            // RFC 5321 §3.2: a server that does not know EHLO answers 5xx; HELO is the old way in.
            hello = try command(transport, "HELO \(me)")
        }
        guard hello.isPositive else {
            let text = RemoteReply.nameRejected(host, hello)
            results = results.map { _ in .deferred(text) }
            return quit(transport)
        }
        // An address with a line break would smuggle a command of its own into the session.
        guard !Self.breaksLine(sender) else {
            results = results.map { _ in .failed(RemoteReply.unsafeAddress(sender)) }
            return quit(transport)
        }
        let payload = DataEncoder.encode(message)
        let path = sender == Self.doubleBounceSender ? "" : sender
        // RFC 1870: the size declared is that of the message as transmitted, without the final ".".
        let size = extensions.contains("SIZE") ? " SIZE=\(payload.count - 3)" : ""
        let mailLine = "MAIL FROM:<\(path)>\(size)\r\n"
        var sendable: [Int] = []
        for (index, recipient) in recipients.enumerated() {
            if Self.breaksLine(recipient) { results[index] = .failed(RemoteReply.unsafeAddress(recipient)) } else { sendable.append(index) }
        }
        guard !sendable.isEmpty else { return quit(transport) }
        let envelope = extensions.contains("PIPELINING")
            ? try pipelinedEnvelope(transport, mailLine, sendable, &results)
            : try lockstepEnvelope(transport, mailLine, sendable, &results)
        guard let accepted = envelope else { return quit(transport) }
        try transport.send(payload)
        let final = try transport.readReply()
        for index in accepted { results[index] = final.result() }
        quit(transport)
    }

    /// MAIL, RCPT per recipient and DATA, each waiting for its reply. The recipients accepted when DATA got its
    /// 354; `nil` when the transaction ends here (`results` then holds every outcome).
    private func lockstepEnvelope(_ transport: some SMTPTransport, _ mailLine: String, _ sendable: [Int],
                                  _ results: inout [DeliveryResult?]) throws(RemoteConnectionError) -> [Int]? {
        try transport.send(Array(mailLine.utf8))
        let mail = try transport.readReply()
        guard mail.isPositive else {
            for index in sendable { results[index] = mail.result() }
            return nil
        }
        var accepted: [Int] = []
        for index in sendable {
            let reply = try command(transport, "RCPT TO:<\(recipients[index])>")
            if reply.isPositive { accepted.append(index) } else { results[index] = reply.result() }
        }
        guard !accepted.isEmpty else { return nil }
        let data = try command(transport, "DATA")
        return started(data, accepted, &results)
    }

    /// The same in one write (RFC 2920); every reply is read, in order, whatever came before it. A DATA that got
    /// 354 although no recipient was accepted is ended with a lone dot, as RFC 2920 §3.1 asks.
    private func pipelinedEnvelope(_ transport: some SMTPTransport, _ mailLine: String, _ sendable: [Int],
                                   _ results: inout [DeliveryResult?]) throws(RemoteConnectionError) -> [Int]? {
        var batch = mailLine
        for index in sendable { batch += "RCPT TO:<\(recipients[index])>\r\n" }
        batch += "DATA\r\n"
        try transport.send(Array(batch.utf8))
        let mail = try transport.readReply()
        var accepted: [Int] = []
        for index in sendable {
            let reply = try transport.readReply()
            if !mail.isPositive {
                results[index] = mail.result()
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
            return nil
        }
        return started(data, accepted, &results)
    }

    /// `accepted` when DATA got its 354; otherwise their results are DATA's reply and the transaction ends.
    private func started(_ data: ServerReply, _ accepted: [Int], _ results: inout [DeliveryResult?]) -> [Int]? {
        guard data.code == 354 else {
            for index in accepted { results[index] = data.isPositive ? .deferred("\(data)") : data.result() }
            return nil
        }
        return accepted
    }

    static func breaksLine(_ address: String) -> Bool {
        address.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0 }
    }

    /// Sends one command line and reads its reply.
    private func command(_ transport: some SMTPTransport, _ line: String) throws(RemoteConnectionError) -> ServerReply {
        try transport.send(Array((line + "\r\n").utf8))
        return try transport.readReply()
    }

    /// Says goodbye; the outcome is settled already, so whatever goes wrong now changes nothing.
    private func quit(_ transport: some SMTPTransport) {
        _ = try? command(transport, "QUIT")
    }
}
