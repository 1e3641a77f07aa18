/// The characters a terminal acts on rather than shows (C0, DEL, C1), and the one way quail writes them when text
/// from outside (an address, a remote server's reply, a client's HELO) is printed: a log line, a quail-qread
/// listing, a bounce (README, "Choices we made").
public enum ControlCharacters {
    /// U+0000–U+001F, U+007F and U+0080–U+009F: an ESC or CSI here can rewrite an admin's terminal.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// Whether `text` holds any control character.
    public static func contains(_ text: some StringProtocol) -> Bool {
        text.unicodeScalars.contains(where: isControl)
    }

    /// `text` with each control character written as `\xHH` (two lowercase hex digits): ESC is `\x1b`, a line
    /// feed `\x0a`, U+0085 `\x85`; everything else is kept as it is.
    public static func escaped(_ text: some StringProtocol) -> String {
        guard contains(text) else { return String(text) }
        var result = ""
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                let hex = String(scalar.value, radix: 16)
                result += "\\x" + (hex.count < 2 ? "0" : "") + hex
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
