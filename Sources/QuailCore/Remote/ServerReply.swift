/// One reply from a remote SMTP server: its code and the text of each line (RFC 5321 §4.2).
public struct ServerReply: Sendable, Equatable, CustomStringConvertible {
    /// The three-digit reply code.
    public var code: Int
    /// The text after `250-` or `250 ` on each line, in order; printable, never holding CR or LF.
    public var lines: [String]

    public init(code: Int, lines: [String]) {
        self.code = code
        self.lines = lines
    }

    public var isPositive: Bool { (200..<400).contains(code) }
    public var isTemporaryFailure: Bool { (400..<500).contains(code) }

    /// The code and every line's text joined with spaces: the text quail reports and logs.
    public var description: String {
        ([String(code)] + lines.filter { !$0.isEmpty }).joined(separator: " ")
    }

    /// The outcome this reply means for a recipient: 2xx/3xx `ok`, 4xx temporary, 5xx (or nonsense) permanent.
    public func result(ok: (String) -> DeliveryResult = DeliveryResult.delivered) -> DeliveryResult {
        if isPositive { return ok(description) }
        return isTemporaryFailure ? .deferred(description) : .failed(description)
    }

    /// The EHLO keywords of a 250 reply to EHLO, uppercased (RFC 5321 §4.1.1.1: every line but the first).
    public var extensions: Set<String> {
        Set(lines.dropFirst().compactMap { $0.split(separator: " ").first.map { $0.uppercased() } })
    }
}

/// Why the bytes from a server could not be read as SMTP replies; the connection is useless afterwards.
public enum ReplyParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A line that does not start with three digits and a space, a `-` or its end.
    case malformedLine(String)
    /// A continuation line whose code differs from the first line's.
    case codeChanged(from: Int, to: Int)
    /// More reply text than any honest server sends (`ReplyParser.limit`).
    case tooLong
    /// More lines in one reply than any honest server sends (`ReplyParser.lineLimit`).
    case tooManyLines

    public var description: String {
        switch self {
        case .malformedLine(let line): "malformed line \"\(line.prefix(80))\""
        case .codeChanged(let first, let later): "code changed from \(first) to \(later) within one reply"
        case .tooLong: "reply longer than \(ReplyParser.limit) octets"
        case .tooManyLines: "reply of more than \(ReplyParser.lineLimit) lines"
        }
    }
}

/// Collects a server's bytes and cuts them into replies, however the reads split them, in time linear in the
/// bytes: each byte is scanned once, and each line is copied once.
///
/// Lines end at LF; a CR before it is dropped. Servers are lenient about bare LF in what they send, and
/// quail only reads replies here, so accepting it costs nothing (unlike in what quail sends).
public struct ReplyParser: Sendable {
    /// A reply longer than this, counting every line's bytes with its line end, is a broken or hostile server
    /// (RFC 5321 §4.5.3.1.5 allows 512 per line).
    public static let limit = 65536
    /// A reply with more lines than this is a broken or hostile server: the longest honest replies are EHLO's,
    /// a line per extension, a few dozen at most. The parser reads no line past this many.
    public static let lineLimit = 500
    private var buffer: [UInt8] = []
    /// Where the unread bytes of `buffer` start; the read ones are dropped once they are the larger part.
    private var start = 0
    /// Where the search for the next LF resumes: the bytes from `start` up to here hold none.
    private var scanned = 0
    /// The reply being built: its code, its lines so far and their bytes with line ends.
    private var pendingCode: Int?
    private var pendingLines: [String] = []
    private var pendingBytes = 0

    public init() {}

    /// Adds bytes read from the connection.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 0 && start >= buffer.count - start {
            buffer.removeSubrange(..<start)
            scanned -= start
            start = 0
        }
        buffer += bytes
    }

    /// The next complete reply, or `nil` when more bytes are needed.
    public mutating func next() throws(ReplyParseError) -> ServerReply? {
        while let newline = buffer[scanned...].firstIndex(of: 0x0A) {
            let length = newline + 1 - start
            pendingBytes += length
            if pendingBytes > Self.limit { throw .tooLong }
            let end = newline > start && buffer[newline - 1] == 0x0D ? newline - 1 : newline
            let line = buffer[start..<end]
            start = newline + 1
            scanned = start
            if let reply = try take(line) { return reply }
        }
        scanned = buffer.count
        if pendingBytes + buffer.count - start > Self.limit { throw .tooLong }
        return nil
    }

    /// Adds one line to the reply being built; returns the reply when that line was its last.
    private mutating func take(_ line: ArraySlice<UInt8>) throws(ReplyParseError) -> ServerReply? {
        let text = LocalReply.printable(String(decoding: line, as: UTF8.self))
        let digits = line.prefix(3)
        guard digits.count == 3, digits.allSatisfy({ (0x30...0x39).contains($0) }),
            line.count == 3 || line[line.startIndex + 3] == 0x20 || line[line.startIndex + 3] == 0x2D
        else { throw .malformedLine(text) }
        let code = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        if let pendingCode, pendingCode != code { throw .codeChanged(from: pendingCode, to: code) }
        pendingCode = code
        pendingLines.append(line.count > 4 ? String(text.dropFirst(4)) : "")
        if line.count > 3 && line[line.startIndex + 3] == 0x2D {
            // A continuation as the last line allowed: the reply cannot end within the limit.
            if pendingLines.count >= Self.lineLimit { throw .tooManyLines }
            return nil
        }
        let reply = ServerReply(code: code, lines: pendingLines)
        pendingCode = nil
        pendingLines = []
        pendingBytes = 0
        return reply
    }
}
