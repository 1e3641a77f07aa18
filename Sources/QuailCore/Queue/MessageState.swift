/// What quail-send knows about one queued message: the state record of `state/H/ID`.
///
/// The envelope inside the spool file is the truth about what must be delivered; this record only adds
/// progress. A missing or unreadable record therefore means "nothing done yet", which at worst repeats a
/// delivery (at least once) and never skips one.
public struct MessageState: Sendable, Equatable {
    public enum Status: String, Sendable {
        /// Still to deliver.
        case pending
        /// Delivered: done.
        case delivered
        /// Failed permanently; its bounce is not yet queued.
        case failed
        /// Failed permanently and bounced: done.
        case bounced
        /// Deleted by the administrator (quail-qctl) without a bounce: done, never delivered.
        case deleted
    }

    public struct Recipient: Sendable, Equatable {
        public var address: String
        public var status: Status = .pending
        public var attempts = 0
        public var nextAttempt = 0
        public var lastError = ""
        /// The SMTP server that gave `lastError`, empty when it came from quail itself.
        public var remoteHost = ""
        /// Seconds since the epoch of the last attempt's result; 0 when never tried (or recorded before this field).
        public var lastAttempt = 0

        public init(address: String, status: Status = .pending, attempts: Int = 0, nextAttempt: Int = 0, lastError: String = "",
                    remoteHost: String = "", lastAttempt: Int = 0) {
            self.address = address
            self.status = status
            self.attempts = attempts
            self.nextAttempt = nextAttempt
            self.lastError = lastError
            self.remoteHost = remoteHost
            self.lastAttempt = lastAttempt
        }

        /// Whether nothing more is to be done for this recipient.
        public var isDone: Bool { status == .delivered || status == .bounced || status == .deleted }
    }

    /// Seconds since the epoch when the message was queued.
    public var birth: Int
    /// Bytes of the message (without the envelope).
    public var bytes: Int
    /// Where the message starts in the spool file (the envelope's length).
    public var offset: Int
    public var sender: String
    public var held = false
    public var recipients: [Recipient]

    public init(birth: Int, bytes: Int, offset: Int, envelope: Envelope) {
        self.birth = birth
        self.bytes = bytes
        self.offset = offset
        self.sender = envelope.sender
        self.recipients = envelope.recipients.map { Recipient(address: $0, nextAttempt: birth) }
    }

    /// Whether every recipient is delivered or bounced.
    public var isFinished: Bool { recipients.allSatisfy(\.isDone) }
}

extension MessageState {
    /// The record's text: a version line, then `key value` lines, then one `rcpt` line per recipient.
    public var encoded: [UInt8] {
        var text = "quail-state 1\nbirth \(birth)\nbytes \(bytes)\noffset \(offset)\nheld \(held ? 1 : 0)\nsender \(escape(sender))\n"
        for r in recipients {
            text += "rcpt \(r.status.rawValue) \(r.attempts) \(r.nextAttempt) \(escape(r.address)) \(escape(r.lastError)) \(escape(r.remoteHost)) \(r.lastAttempt)\n"
        }
        return Array(text.utf8)
    }

    /// Parses a record; `nil` when it is damaged in any way.
    public init?(decoding bytes: [UInt8]) {
        let lines = bytes.split(separator: 0x0A).map { String(decoding: $0, as: UTF8.self) }
        guard lines.first == "quail-state 1" else { return nil }
        var fields: [String: String] = [:]
        var recipients: [Recipient] = []
        for line in lines.dropFirst() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            if parts.first == "rcpt" {
                // Six fields before the remote host was recorded, seven before the last attempt's time; eight since.
                guard (6...8).contains(parts.count), let status = Status(rawValue: parts[1]), let attempts = Int(parts[2]),
                    let next = Int(parts[3]), let address = unescape(parts[4]), let error = unescape(parts[5]),
                    let host = parts.count >= 7 ? unescape(parts[6]) : "",
                    let lastAttempt = parts.count == 8 ? Int(parts[7]) : 0
                else { return nil }
                recipients.append(Recipient(address: address, status: status, attempts: attempts, nextAttempt: next, lastError: error,
                                            remoteHost: host, lastAttempt: lastAttempt))
            } else if parts.count == 2 {
                fields[parts[0]] = parts[1]
            } else {
                return nil
            }
        }
        guard let birth = fields["birth"].flatMap({ Int($0) }), let size = fields["bytes"].flatMap({ Int($0) }),
            let offset = fields["offset"].flatMap({ Int($0) }), let sender = fields["sender"].flatMap(unescape),
            !recipients.isEmpty
        else { return nil }
        self.birth = birth
        self.bytes = size
        self.offset = offset
        self.sender = sender
        self.held = fields["held"] == "1"
        self.recipients = recipients
    }
}

// Percent-escapes bytes that would break a space-separated line; an empty value is written as "%".
// Works on bytes so that multi-byte UTF-8 passes through unchanged.
private func escape(_ value: String) -> String {
    if value.isEmpty { return "%" }
    var bytes: [UInt8] = []
    for byte in value.utf8 {
        if byte <= 0x20 || byte == 0x25 || byte == 0x7F {
            let hex = String(byte, radix: 16, uppercase: true)
            bytes += Array(("%" + (hex.count == 1 ? "0" : "") + hex).utf8)
        } else {
            bytes.append(byte)
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

private func unescape(_ value: String) -> String? {
    if value == "%" { return "" }
    var bytes: [UInt8] = []
    var iterator = Array(value.utf8).makeIterator()
    while let byte = iterator.next() {
        guard byte == 0x25 else { bytes.append(byte); continue }
        guard let high = iterator.next(), let low = iterator.next(),
            let decoded = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
        else { return nil }
        bytes.append(decoded)
    }
    return String(decoding: bytes, as: UTF8.self)
}
