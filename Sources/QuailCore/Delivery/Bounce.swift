/// One recipient a bounce reports: its address, why delivery failed, and the remote host that said so.
public struct FailedRecipient: Sendable, Equatable {
    /// The envelope recipient that failed.
    public var address: String
    /// The local reason or the remote server's reply, as quail-local or quail-remote reported it.
    public var diagnostic: String
    /// The SMTP server that refused the recipient; `nil` when the failure was local.
    public var remoteHost: String?

    public init(address: String, diagnostic: String, remoteHost: String? = nil) {
        self.address = address
        self.diagnostic = diagnostic
        self.remoteHost = remoteHost
    }
}

/// Failure reports (RFC 3464 delivery status notifications) for recipients that failed for good.
/// qmail: qmail-send's injectbounce.
public enum Bounce {
    /// The envelope sender of a double bounce: qmail's `#@[]`, which cannot be a real mailbox, so that a
    /// failed double bounce is recognised and dropped instead of looping.
    public static let doubleBounceSender = "#@[]"

    /// The returned message's body is cut at a line end once the whole original passes this many bytes
    /// (DESIGN.md: the original headers and the body up to 50 KB); the header is always returned whole.
    public static let returnedMessageLimit = 50 * 1024

    /// The envelope of the bounce for a message from `originalSender`: to the sender from `<>`; a bounce of
    /// a bounce (sender `""`) goes to `doubleBounceTo` (with `@me` when it has no `@`) from `#@[]`; a failed
    /// double bounce (sender `#@[]`), or a double bounce with no `doubleBounceTo`, returns `nil`: it is
    /// logged and dropped, never sent.
    public static func envelope(originalSender: String, doubleBounceTo: String, me: String) -> Envelope? {
        switch originalSender {
        case doubleBounceSender:
            return nil
        case "":
            let target = doubleBounceTo.trimmingWhitespace()
            guard !target.isEmpty else { return nil }
            return Envelope(sender: doubleBounceSender, recipients: [target.contains("@") ? target : "\(target)@\(me)"])
        default:
            return Envelope(sender: "", recipients: [originalSender])
        }
    }

    /// The bounce message (LF line ends): a `multipart/report; report-type=delivery-status` with a
    /// human-readable part, a `message/delivery-status` part and the original as `message/rfc822`, cut after
    /// `returnedMessageLimit` bytes at a line end.
    ///
    /// `original` is the spooled message (it may already be cut short by the caller); `arrival` and `now` are
    /// seconds since the epoch; `from` is `bouncefrom@bouncehost` and `to` the bounce's envelope recipient.
    public static func message(
        original: [UInt8], originalSender: String, failures: [FailedRecipient], arrival: Int, now: Int,
        me: String, from: String, to: String
    ) -> [UInt8] {
        let (returned, wasCut) = returnedMessage(original)
        let boundary = makeBoundary(now: now, avoiding: returned)
        let lines = [
            "From: \(from)", "To: \(ControlCharacters.escaped(to))", "Subject: failure notice", "Date: \(MailDate.format(now))",
            "Message-ID: \(MessageID.make(host: me, now: now))", "MIME-Version: 1.0",
            "Content-Type: multipart/report; report-type=delivery-status;", "\tboundary=\"\(boundary)\"",
            "Auto-Submitted: auto-replied", "", "This is a MIME-encapsulated message.", "",
        ]
        var head = lines.map { $0 + "\n" }.joined()
        let notice = humanReadable(
            originalSender: originalSender, failures: failures, arrival: arrival, me: me, wasCut: wasCut)
        head += part(boundary, type: "text/plain; charset=utf-8", description: "Notification", notice)
        head += part(boundary, type: "message/delivery-status", description: "Delivery report",
                     deliveryStatus(failures: failures, arrival: arrival, now: now, me: me))
        head += part(boundary, type: "message/rfc822", description: "Undelivered message", "")
        // RFC 2046 §5.1.1: the line end before a delimiter belongs to it, so the original keeps its last LF.
        return Array(head.utf8) + returned + Array("\n--\(boundary)--\n".utf8)
    }

    /// One body part: the delimiter line, its header, an empty line and `content`, with the line end that
    /// the next delimiter takes for its own.
    private static func part(_ boundary: String, type: String, description: String, _ content: String) -> String {
        let opening = "--\(boundary)\nContent-Type: \(type)\nContent-Description: \(description)\n\n"
        return content.isEmpty ? opening : opening + content + "\n"
    }

    /// A boundary that does not occur in the returned message (RFC 2046 §5.1.1: at most 70 characters).
    private static func makeBoundary(now: Int, avoiding returned: [UInt8]) -> String {
        while true {
            let boundary = "quail-\(now)-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))=_"
            if returned.firstRange(of: Array("--\(boundary)".utf8)) == nil { return boundary }
        }
    }
}
