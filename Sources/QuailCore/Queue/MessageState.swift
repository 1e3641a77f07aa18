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

    /// When quail-send next has something to do for this message: the earliest next attempt of a pending recipient;
    /// `now` when a failure waits for its bounce or nothing is left; `heldUntil` while held. Saved as the record's
    /// mtime, so that quail-send's start-up finds the messages due first without reading every record.
    public func nextWork(now: Int) -> Int {
        if held { return MessageState.heldUntil }
        if recipients.contains(where: { $0.status == .failed }) { return now }
        return recipients.lazy.filter { $0.status == .pending }.map(\.nextAttempt).min() ?? now
    }

    /// The `nextWork` of a held message: far enough ahead that it is read last, in the background.
    public static let heldUntil = Int(Int32.max)
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
        guard let state = bytes.withUnsafeBufferPointer({ StateDecoder(strings: nil).decode($0) }) else { return nil }
        self = state
    }

    /// Parses a record like `init?(decoding:)`, sharing equal strings through `strings` (quail-send's start-up).
    public init?(decoding bytes: UnsafeBufferPointer<UInt8>, strings: StringInterner?) {
        guard let state = StateDecoder(strings: strings).decode(bytes) else { return nil }
        self = state
    }
}

/// Shares the storage of equal strings. A million messages held for one outage repeat the same sender, error text
/// and often recipients; each record read at start-up would otherwise hold its own heap copy of each.
public final class StringInterner {
    private var table: Set<String> = []

    public init() {}

    /// How many distinct long strings are held.
    public var count: Int { table.count }

    /// `text`, or an equal string seen before. Strings of up to 15 UTF-8 bytes are stored inline by Swift: left as they are.
    public func intern(_ text: String) -> String {
        if text.utf8.count <= 15 { return text }
        return table.insert(text).memberAfterInsert
    }
}

/// The state record's parser, on bytes: no line or field becomes a `String` unless it is kept, and no dictionary is
/// built. quail-send reads a record per queued message at start-up, so this is its per-message cost.
/// Accepts exactly what the record format allows (see `encoded`): a version line, `key value` lines (unknown keys
/// ignored, the last of a repeated key wins), `rcpt` lines of six to eight fields; blank lines are skipped.
private struct StateDecoder {
    let strings: StringInterner?

    typealias Bytes = UnsafeBufferPointer<UInt8>
    typealias Field = Range<Int>

    func decode(_ bytes: Bytes) -> MessageState? {
        var sawVersion = false
        var birth: Field?, size: Field?, offset: Field?, sender: Field?, held: Field?
        var recipients: [MessageState.Recipient] = []
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            defer { start = end + 1 }
            if end == start { continue }
            if !sawVersion {
                guard equals(bytes, start..<end, "quail-state 1") else { return nil }
                sawVersion = true
                continue
            }
            // Up to eight space-separated fields; empty fields count (the format never omits one).
            var fields: [Field] = []
            fields.reserveCapacity(8)
            var fieldStart = start
            for index in start..<end where bytes[index] == 0x20 {
                fields.append(fieldStart..<index)
                fieldStart = index + 1
                if fields.count > 8 { return nil }
            }
            fields.append(fieldStart..<end)
            if equals(bytes, fields[0], "rcpt") {
                guard (6...8).contains(fields.count), let recipient = recipient(bytes, fields) else { return nil }
                recipients.append(recipient)
            } else if fields.count == 2 {
                let key = fields[0], value = fields[1]
                if equals(bytes, key, "birth") { birth = value }
                else if equals(bytes, key, "bytes") { size = value }
                else if equals(bytes, key, "offset") { offset = value }
                else if equals(bytes, key, "sender") { sender = value }
                else if equals(bytes, key, "held") { held = value }
            } else {
                return nil
            }
        }
        guard sawVersion, let birth = birth.flatMap({ integer(bytes, $0) }), let size = size.flatMap({ integer(bytes, $0) }),
            let offset = offset.flatMap({ integer(bytes, $0) }), let sender = sender.flatMap({ unescape(bytes, $0) }),
            !recipients.isEmpty
        else { return nil }
        var state = MessageState(birth: birth, bytes: size, offset: offset, envelope: Envelope(sender: sender, recipients: []))
        state.held = held.map { equals(bytes, $0, "1") } ?? false
        state.recipients = recipients
        return state
    }

    private func recipient(_ bytes: Bytes, _ fields: [Field]) -> MessageState.Recipient? {
        guard let status = status(bytes, fields[1]), let attempts = integer(bytes, fields[2]), let next = integer(bytes, fields[3]),
            let address = unescape(bytes, fields[4]), let error = unescape(bytes, fields[5]),
            let host = fields.count >= 7 ? unescape(bytes, fields[6]) : "",
            let lastAttempt = fields.count == 8 ? integer(bytes, fields[7]) : 0
        else { return nil }
        return MessageState.Recipient(address: address, status: status, attempts: attempts, nextAttempt: next, lastError: error,
                                      remoteHost: host, lastAttempt: lastAttempt)
    }

    private func status(_ bytes: Bytes, _ field: Field) -> MessageState.Status? {
        if equals(bytes, field, "pending") { return .pending }
        if equals(bytes, field, "delivered") { return .delivered }
        if equals(bytes, field, "failed") { return .failed }
        if equals(bytes, field, "bounced") { return .bounced }
        if equals(bytes, field, "deleted") { return .deleted }
        return nil
    }

    private func equals(_ bytes: Bytes, _ field: Field, _ text: StaticString) -> Bool {
        guard field.count == text.utf8CodeUnitCount else { return false }
        let expected = text.utf8Start
        for (offset, index) in field.enumerated() where bytes[index] != expected[offset] { return false }
        return true
    }

    /// `Int(String)`'s grammar: an optional sign, then one or more ASCII digits, within range.
    private func integer(_ bytes: Bytes, _ field: Field) -> Int? {
        var index = field.lowerBound
        var negative = false
        if index < field.upperBound && (bytes[index] == 0x2B || bytes[index] == 0x2D) {
            negative = bytes[index] == 0x2D
            index += 1
        }
        guard index < field.upperBound else { return nil }
        var value = 0
        while index < field.upperBound {
            let digit = Int(bytes[index]) - 0x30
            guard (0...9).contains(digit) else { return nil }
            let (times, overflowTimes) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowSum) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
            guard !overflowTimes && !overflowSum else { return nil }
            value = sum
            index += 1
        }
        return value
    }

    /// The inverse of `escape`: `%` alone is the empty string, `%XX` a byte; `nil` for a broken escape.
    private func unescape(_ bytes: Bytes, _ field: Field) -> String? {
        if equals(bytes, field, "%") { return "" }
        let slice = Bytes(rebasing: bytes[field])
        guard slice.contains(0x25) else { return keep(String(decoding: slice, as: UTF8.self)) }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(slice.count)
        var index = 0
        while index < slice.count {
            guard slice[index] == 0x25 else {
                decoded.append(slice[index])
                index += 1
                continue
            }
            guard index + 2 < slice.count, let high = hexDigit(slice[index + 1]), let low = hexDigit(slice[index + 2]) else { return nil }
            decoded.append(high << 4 | low)
            index += 3
        }
        return keep(String(decoding: decoded, as: UTF8.self))
    }

    private func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    private func keep(_ text: String) -> String { strings?.intern(text) ?? text }
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
