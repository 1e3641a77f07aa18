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
public enum ReplyParseError: Error, Sendable, Equatable {
    /// A line that does not start with three digits and a space, a `-` or its end.
    case malformedLine(String)
    /// A continuation line whose code differs from the first line's.
    case codeChanged(from: Int, to: Int)
    /// More reply text than any honest server sends.
    case tooLong
}

/// Collects a server's bytes and cuts them into replies, however the reads split them.
///
/// Lines end at LF; a CR before it is dropped. Servers are lenient about bare LF in what they send, and
/// quail only reads replies here, so accepting it costs nothing (unlike in what quail sends).
public struct ReplyParser: Sendable {
    /// A reply longer than this is a broken or hostile server (RFC 5321 §4.5.3.1.5 allows 512 per line).
    public static let limit = 65536
    private var buffer: [UInt8] = []
    private var pending: (code: Int, lines: [String])?

    public init() {}

    /// Adds bytes read from the connection.
    public mutating func append(_ bytes: some Sequence<UInt8>) { buffer += bytes }

    /// The next complete reply, or `nil` when more bytes are needed.
    public mutating func next() throws(ReplyParseError) -> ServerReply? {
        while let newline = buffer.firstIndex(of: 0x0A) {
            var line = Array(buffer[..<newline])
            buffer.removeSubrange(...newline)
            if line.last == 0x0D { line.removeLast() }
            if let reply = try take(line) { return reply }
        }
        if buffer.count + (pending?.lines.reduce(0) { $0 + $1.utf8.count } ?? 0) > Self.limit { throw .tooLong }
        return nil
    }

    /// Adds one line to the reply being built; returns the reply when that line was its last.
    private mutating func take(_ line: [UInt8]) throws(ReplyParseError) -> ServerReply? {
        let text = LocalReply.printable(String(decoding: line, as: UTF8.self))
        let digits = line.prefix(3)
        guard digits.count == 3, digits.allSatisfy({ (0x30...0x39).contains($0) }),
            line.count == 3 || line[3] == 0x20 || line[3] == 0x2D
        else { throw .malformedLine(text) }
        let code = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        if let pending, pending.code != code { throw .codeChanged(from: pending.code, to: code) }
        let body = line.count > 4 ? String(text.dropFirst(4)) : ""
        var reply = pending ?? (code, [])
        reply.lines.append(body)
        if line.count > 3 && line[3] == 0x2D {
            pending = reply
            return nil
        }
        pending = nil
        return ServerReply(code: code, lines: reply.lines)
    }
}
