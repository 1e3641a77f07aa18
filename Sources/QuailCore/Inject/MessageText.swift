/// The byte-level clean-up of a message read from a local program, before its header is parsed.
public enum MessageText {
    private static let lineFeed = UInt8(ascii: "\n")
    private static let carriageReturn = UInt8(ascii: "\r")
    private static let dot = UInt8(ascii: ".")

    /// `bytes` with every CRLF turned into LF; bare LFs and bare CRs stay as they are.
    ///
    /// The spool stores LF-ended text (DESIGN.md "Line endings inside quail"), and quail-remote turns every
    /// line end into CRLF on the way out, so a stray CR here can never end another server's DATA early.
    public static func unixLineEnds(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(carriageReturn) else { return bytes }
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == carriageReturn, index + 1 < bytes.count, bytes[index + 1] == lineFeed {
                index += 1
                continue
            }
            result.append(byte)
            index += 1
        }
        return result
    }

    /// `bytes` up to (not including) the first line that holds only `.`, sendmail's end of input
    /// when neither `-i` nor `-oi` is given. The text must already have LF line ends.
    public static func truncatedAtLoneDot(_ bytes: [UInt8]) -> [UInt8] {
        var lineStart = 0
        while lineStart < bytes.count {
            let lineEnd = bytes[lineStart...].firstIndex(of: lineFeed) ?? bytes.count
            if lineEnd - lineStart == 1 && bytes[lineStart] == dot {
                return Array(bytes[..<lineStart])
            }
            lineStart = lineEnd + 1
        }
        return bytes
    }
}
