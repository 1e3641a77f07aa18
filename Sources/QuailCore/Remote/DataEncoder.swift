/// Turns a spooled message (LF line ends, as quail stores it) into the octets sent after `DATA`.
///
/// Every line ending leaves as CRLF: an LF, a CR LF pair and a bare CR (one not followed by LF) each become
/// one CRLF, so quail never emits a bare CR or LF that another server could take as the end of a line,
/// and no `<LF>.<LF>`-style sequence can end DATA early at the next hop (SMTP smuggling). Dot-stuffing
/// (RFC 5321 §4.5.2) is applied after that normalisation, so it sees exactly the lines the server sees.
/// The result always ends with CRLF, then the `.` CRLF terminator. qmail: qmail-remote's blast()
public enum DataEncoder {
    private static let cr: UInt8 = 0x0D
    private static let lf: UInt8 = 0x0A
    private static let dot: UInt8 = 0x2E

    /// The whole DATA payload for `message`, terminator included.
    public static func encode(_ message: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(message.count + message.count / 32 + 5)
        var atLineStart = true
        var index = 0
        while index < message.count {
            let byte = message[index]
            index += 1
            if byte == cr || byte == lf {
                // CR LF is one line end, not two: skip the LF that follows a CR.
                if byte == cr, index < message.count, message[index] == lf { index += 1 }
                output += [cr, lf]
                atLineStart = true
                continue
            }
            // RFC 5321 §4.5.2: a line that starts with "." gets one more, so no line is a lone ".".
            if atLineStart, byte == dot { output.append(dot) }
            output.append(byte)
            atLineStart = false
        }
        if !atLineStart { output += [cr, lf] }
        output += [dot, cr, lf]
        return output
    }
}
