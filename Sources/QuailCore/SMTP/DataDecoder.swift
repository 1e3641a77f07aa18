import Glibc

/// Decodes the DATA stream of RFC 5321 §4.1.1.4 into the message quail spools: dot-unstuffed, LF line ends.
///
/// Only CRLF ends a line. A bare LF or bare CR anywhere is an error and the session must close: that is what
/// makes SMTP smuggling (`\n.\n` and its kin read as the end by one server and not by another) impossible here.
/// The stream ends only at CRLF `.` CRLF. Faults that do not break framing (a line over 1000 octets, a NUL byte,
/// a message over `databytes`, a loop) are noted and reported after the end, once the client is listening again.
public struct DataDecoder: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// Everything given was consumed; the end has not come yet.
        case needMore
        /// The end marker was found after `consumed` bytes of the last chunk; the rest is the next command.
        case finished(consumed: Int)
        /// A bare CR or LF: refuse and close.
        case bareLineEnding
    }

    /// Decoded bytes not yet taken by the caller (see `takeOutput`).
    public private(set) var output: [UInt8] = []
    /// Bytes of the message as it will be spooled.
    public private(set) var messageBytes = 0
    public private(set) var lineTooLong = false
    /// A NUL byte somewhere in the data: a next hop that strips NULs could find an end of data here never seen.
    public private(set) var nulByte = false
    public private(set) var tooBig = false
    public private(set) var receivedLines = 0

    private let byteLimit: Int
    private var lineLength = 0
    private var atLineStart = true
    private var lineStartsWithDot = false
    /// The line began with a dot, removed as transparency: it does not count toward the line's length.
    private var dotRemoved = false
    private var afterCR = false
    private var inHeader = true
    private var linePrefix: [UInt8] = []

    /// RFC 5321 §4.5.3.1.6: 1000 octets per line, CRLF included.
    public static let maximumLineLength = 1000
    private static let received = Array("received:".utf8)

    /// `byteLimit` is `databytes` (0 = no limit).
    public init(byteLimit: Int) { self.byteLimit = byteLimit }

    /// Hands over the decoded bytes so far; the decoder keeps no copy.
    public mutating func takeOutput() -> [UInt8] {
        defer { output.removeAll(keepingCapacity: true) }
        return output
    }

    public mutating func feed(_ bytes: ArraySlice<UInt8>) -> Outcome {
        bytes.withUnsafeBufferPointer { feed($0) }
    }

    private mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>) -> Outcome {
        var consumed = 0
        while consumed < bytes.count {
            let byte = bytes[consumed]
            // The middle of a line, up to its next CR or LF, goes into the spool as it came: one copy for the run,
            // not the byte-by-byte walk below.
            if !atLineStart && !afterCR && byte != 0x0D && byte != 0x0A {
                var end = consumed + 1
                while end < bytes.count && bytes[end] != 0x0D && bytes[end] != 0x0A { end += 1 }
                appendRun(UnsafeBufferPointer(rebasing: bytes[consumed..<end]))
                consumed = end
                continue
            }
            consumed += 1
            lineLength += 1
            if afterCR {
                guard byte == 0x0A else { return .bareLineEnding }
                afterCR = false
                if endLine() { return .finished(consumed: consumed) }
                continue
            }
            switch byte {
            case 0x0D: afterCR = true
            case 0x0A: return .bareLineEnding
            case 0x2E where atLineStart:
                // RFC 5321 §4.5.2: a leading dot is removed; a line that is only a dot ends the data.
                atLineStart = false
                lineStartsWithDot = true
                dotRemoved = true
            default:
                atLineStart = false
                append(byte)
            }
        }
        return .needMore
    }

    /// Ends the current line (its CRLF seen); true when it was the lone dot that ends the data.
    private mutating func endLine() -> Bool {
        let loneDot = lineStartsWithDot && lineLength == 3
        // RFC 5321 §4.5.3.1.6: the limit does not count the dot added for transparency.
        if lineLength - (dotRemoved ? 1 : 0) > DataDecoder.maximumLineLength { lineTooLong = true }
        if loneDot { return true }
        if inHeader {
            if linePrefix.isEmpty && !lineStartsWithDot {
                inHeader = false
            } else if linePrefix.count == DataDecoder.received.count && linePrefix.map(lowercased) == DataDecoder.received {
                receivedLines += 1
            }
        }
        append(0x0A)
        lineLength = 0
        atLineStart = true
        lineStartsWithDot = false
        dotRemoved = false
        linePrefix.removeAll(keepingCapacity: true)
        return false
    }

    /// Bytes of a line past its first, none of them CR or LF: what `append` does for each, at once.
    private mutating func appendRun(_ run: UnsafeBufferPointer<UInt8>) {
        // A second byte after a leading dot: the line is not the lone dot.
        if lineStartsWithDot && lineLength == 1 { lineStartsWithDot = false }
        lineLength += run.count
        if !nulByte, let start = run.baseAddress, memchr(start, 0, run.count) != nil { nulByte = true }
        if inHeader && linePrefix.count < DataDecoder.received.count {
            linePrefix.append(contentsOf: run.prefix(DataDecoder.received.count - linePrefix.count))
        }
        let before = messageBytes
        messageBytes += run.count
        if !tooBig { output.append(contentsOf: byteLimit > 0 ? run.prefix(max(0, byteLimit - before)) : run[...]) }
        if byteLimit > 0 && messageBytes > byteLimit { tooBig = true }
    }

    private mutating func append(_ byte: UInt8) {
        if byte == 0 { nulByte = true }
        if inHeader && linePrefix.count < DataDecoder.received.count && byte != 0x0A { linePrefix.append(byte) }
        messageBytes += 1
        if byteLimit > 0 && messageBytes > byteLimit { tooBig = true }
        if !tooBig { output.append(byte) }
    }

    private func lowercased(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte | 0x20 : byte }
}
