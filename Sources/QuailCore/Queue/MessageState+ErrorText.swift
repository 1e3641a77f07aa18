extension MessageState.Recipient {
    /// The most of a failure text the state record keeps, in octets; bounces and `quail-qread` quote it from
    /// there. A server's reply may run to `ReplyParser.limit`, which tells a sender nothing more than its start
    /// does and would be rewritten with the record at every save.
    public static let errorLimit = 1000

    /// `text` as the state record keeps it: whole when it fits in `errorLimit` octets, else its start, cut
    /// between two UTF-8 characters, and "..." to show the cut.
    public static func storedError(_ text: String) -> String {
        let bytes = text.utf8
        guard bytes.count > errorLimit else { return text }
        let marker = "..."
        var end = bytes.index(bytes.startIndex, offsetBy: errorLimit - marker.utf8.count)
        // A UTF-8 continuation byte (10xxxxxx) belongs to the character before it.
        while end > bytes.startIndex && bytes[end] & 0xC0 == 0x80 { end = bytes.index(before: end) }
        return String(decoding: bytes[..<end], as: UTF8.self) + marker
    }
}
