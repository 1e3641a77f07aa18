/// One SMTP transaction for one message to one server, the client side of RFC 5321: greeting, EHLO (HELO
/// fallback), MAIL with SIZE when offered, one RCPT per recipient, DATA, QUIT. qmail: qmail-remote's smtp()
///
/// PIPELINING is not used even when offered: one command, one reply keeps every result tied to its
/// recipient, and a backup MX relays few recipients per message.
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
        let mail = try command(transport, "MAIL FROM:<\(path)>\(size)")
        guard mail.isPositive else {
            results = results.map { _ in mail.result() }
            return quit(transport)
        }
        var accepted: [Int] = []
        for (index, recipient) in recipients.enumerated() {
            guard !Self.breaksLine(recipient) else {
                results[index] = .failed(RemoteReply.unsafeAddress(recipient))
                continue
            }
            let reply = try command(transport, "RCPT TO:<\(recipient)>")
            if reply.isPositive { accepted.append(index) } else { results[index] = reply.result() }
        }
        guard !accepted.isEmpty else { return quit(transport) }
        let data = try command(transport, "DATA")
        guard data.code == 354 else {
            for index in accepted { results[index] = data.isPositive ? .deferred("\(data)") : data.result() }
            return quit(transport)
        }
        try transport.send(payload)
        let final = try transport.readReply()
        for index in accepted { results[index] = final.result() }
        quit(transport)
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
