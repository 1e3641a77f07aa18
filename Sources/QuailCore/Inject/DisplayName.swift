/// A display name written into a generated `From:` field.
public enum DisplayName {
    /// `name <address>`, with `name` as an RFC 5322 phrase: bare when it is made of atoms, quoted when it
    /// holds specials, and an RFC 2047 encoded word when it is not ASCII. A blank name gives the bare address.
    public static func mailbox(name: String?, address: String) -> String {
        guard let name = name?.trimmingWhitespace(), !name.isEmpty else { return address }
        return "\(phrase(name)) <\(address)>"
    }

    /// `name` as a phrase.
    static func phrase(_ name: String) -> String {
        if !name.allSatisfy({ $0.isASCII && !$0.isNewline }) {
            return encodedWords(name)
        }
        let words = name.split(separator: " ", omittingEmptySubsequences: false)
        if words.allSatisfy({ !$0.isEmpty && AddressToken.isDotAtom(String($0)) && !$0.contains(".") }) {
            return name
        }
        return AddressToken.quote(name)
    }

    /// RFC 2047 B-encoded words of at most 45 bytes of UTF-8 each (72 characters, under the limit of 75),
    /// split between characters so that no word holds half of one.
    static func encodedWords(_ text: String) -> String {
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in text {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > 45 {
                words.append("=?UTF-8?B?\(base64(chunk))?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?\(base64(chunk))?=") }
        return words.joined(separator: " ")
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

    /// RFC 4648 base64 with padding.
    static func base64(_ bytes: [UInt8]) -> String {
        var result = ""
        var index = 0
        while index < bytes.count {
            let count = min(3, bytes.count - index)
            var group = 0
            for offset in 0..<3 {
                group = group << 8 | Int(offset < count ? bytes[index + offset] : 0)
            }
            for position in 0..<4 {
                let sextet = (group >> (18 - 6 * position)) & 0x3F
                result.append(position <= count ? alphabet[sextet] : "=")
            }
            index += 3
        }
        return result
    }
}
