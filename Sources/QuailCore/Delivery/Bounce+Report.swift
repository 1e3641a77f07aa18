/// The parts of a bounce that describe the failure: the notice for people and the report for programs.
extension Bounce {
    /// The notice for the sender, in qmail's words, one paragraph per failed recipient; what came from outside
    /// (addresses, a server's reply) has its control characters escaped.
    static func humanReadable(
        originalSender: String, failures: [FailedRecipient], arrival: Int, me: String, wasCut: Bool
    ) -> String {
        var text = "Hi. This is the quail program at \(me).\n"
        if originalSender.isEmpty {
            text += "I tried to deliver a bounce message to the following addresses, but the bounce bounced!\n"
        } else {
            text += "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
            text += "This is a permanent error; I've given up. Sorry it didn't work out.\n"
        }
        for failure in failures {
            text += "\n<\(ControlCharacters.escaped(failure.address))>:\n"
            if let host = failure.remoteHost { text += "\(ControlCharacters.escaped(host)) said: " }
            text += ControlCharacters.escaped(failure.diagnostic) + "\n"
        }
        text += "\n--- The message arrived at \(MailDate.format(arrival)) from <\(ControlCharacters.escaped(originalSender))>"
        text += wasCut ? "; its first \(returnedMessageLimit / 1024) KB follow.\n" : " and follows.\n"
        return text
    }

    /// The `message/delivery-status` content (RFC 3464 §2.2 and §2.3): per-message fields, then one block
    /// of per-recipient fields for each failure.
    static func deliveryStatus(failures: [FailedRecipient], arrival: Int, now: Int, me: String) -> String {
        var text = "Reporting-MTA: dns; \(me)\nArrival-Date: \(MailDate.format(arrival))\n"
        for failure in failures {
            text += "\nFinal-Recipient: rfc822; \(fieldText(failure.address))\n"
            text += "Action: failed\n"
            text += "Status: \(status(from: failure.diagnostic))\n"
            if let host = failure.remoteHost {
                text += "Remote-MTA: dns; \(fieldText(host))\n"
                text += "Diagnostic-Code: smtp; \(fieldText(failure.diagnostic))\n"
            } else {
                text += "Diagnostic-Code: x-quail; \(fieldText(failure.diagnostic))\n"
            }
            text += "Last-Attempt-Date: \(MailDate.format(now))\n"
        }
        return text
    }

    /// The RFC 3463 status for a diagnostic: a qmail-style `#5.x.x` in it, else the enhanced code of an SMTP
    /// reply in it (`550 5.1.1 ...`), else `5.0.0`. Only class 5 counts: the recipient failed for good.
    public static func status(from diagnostic: String) -> String {
        let bytes = Array(diagnostic.utf8)
        for index in bytes.indices where bytes[index] == UInt8(ascii: "#") {
            if let code = enhancedCode(in: bytes, at: index + 1) { return code }
        }
        for index in bytes.indices where isReplyCode(bytes, at: index) {
            if let code = enhancedCode(in: bytes, at: index + 4) { return code }
        }
        return "5.0.0"
    }

    /// `5.d.d` (1 to 3 digits per number) starting at `start` and not followed by another digit.
    private static func enhancedCode(in bytes: [UInt8], at start: Int) -> String? {
        guard start < bytes.count, bytes[start] == UInt8(ascii: "5") else { return nil }
        var index = start + 1
        for _ in 0..<2 {
            guard index < bytes.count, bytes[index] == UInt8(ascii: ".") else { return nil }
            let digits = bytes[(index + 1)...].prefix { isDigit($0) }
            guard (1...3).contains(digits.count) else { return nil }
            index += 1 + digits.count
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// A three-digit reply code starting with 5, on its own, followed by a space or `-`.
    private static func isReplyCode(_ bytes: [UInt8], at index: Int) -> Bool {
        guard index + 3 < bytes.count, bytes[index] == UInt8(ascii: "5") else { return false }
        if index > 0, isDigit(bytes[index - 1]) { return false }
        return isDigit(bytes[index + 1]) && isDigit(bytes[index + 2])
            && (bytes[index + 3] == UInt8(ascii: " ") || bytes[index + 3] == UInt8(ascii: "-"))
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    /// `text` fit for one report field: one line, other control characters escaped, ASCII only (RFC 3464: the
    /// rest is `?`), at most 900 characters.
    static func fieldText(_ text: String) -> String {
        let oneLine = String(text.unicodeScalars.map { $0 == "\n" || $0 == "\r" || $0 == "\t" ? " " : Character($0) })
        let flat = ControlCharacters.escaped(oneLine).unicodeScalars.map { $0.isASCII ? Character($0) : "?" }
        return String(flat.prefix(900))
    }

    /// The original to return: whole when short, else cut at the last line end within
    /// `returnedMessageLimit`, but never inside the header. The second value tells whether it was cut.
    static func returnedMessage(_ original: [UInt8]) -> ([UInt8], Bool) {
        guard original.count > returnedMessageLimit else { return (withFinalLineEnd(original), false) }
        let headerEnd = original.firstRange(of: [0x0A, 0x0A]).map { $0.upperBound } ?? original.count
        let limit = max(returnedMessageLimit, headerEnd)
        guard limit < original.count else { return (withFinalLineEnd(original), false) }
        guard let lastLineEnd = original[..<limit].lastIndex(of: 0x0A) else { return ([], true) }
        return (Array(original[...lastLineEnd]), true)
    }

    private static func withFinalLineEnd(_ bytes: [UInt8]) -> [UInt8] {
        bytes.isEmpty || bytes.last == 0x0A ? bytes : bytes + [0x0A]
    }
}
