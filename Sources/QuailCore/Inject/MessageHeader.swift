/// One header field: its name, and its lines exactly as they came so that it is written back unchanged.
public struct HeaderField: Sendable, Equatable {
    /// The name as written, without the colon.
    public var name: String
    /// The field's lines as read, continuation lines included, each ended by LF.
    public var raw: [UInt8]

    public init(name: String, raw: [UInt8]) {
        self.name = name
        self.raw = raw
    }

    /// A new field `Name: value` on one line.
    public init(name: String, value: String) {
        self.init(name: name, raw: Array("\(name): \(value)\n".utf8))
    }

    /// The value for reading: unfolded (RFC 5322 §2.2.3, a line break before white space is removed)
    /// and trimmed.
    public var value: String {
        guard let colon = raw.firstIndex(of: UInt8(ascii: ":")) else { return "" }
        let unfolded = raw[(colon + 1)...].filter { $0 != UInt8(ascii: "\n") }
        return String(decoding: unfolded, as: UTF8.self).trimmingWhitespace()
    }

    /// Whether the field is called `other`; field names compare case-insensitively.
    public func isNamed(_ other: String) -> Bool {
        name.lowercased() == other.lowercased()
    }
}

/// A message's header: the fields up to the first empty line. qmail: headerbody.
///
/// The header also ends at the first line that is neither a field nor a continuation; that line starts
/// the body, and `bytes(body:)` puts the empty line that was missing in front of it.
public struct MessageHeader: Sendable, Equatable {
    public var fields: [HeaderField]

    public init(fields: [HeaderField] = []) { self.fields = fields }

    /// Splits LF-ended `message` into its header and its body (the body without the empty line).
    public static func parse(_ message: [UInt8]) -> (header: MessageHeader, body: ArraySlice<UInt8>) {
        var fields: [HeaderField] = []
        var position = 0
        // Sendmail and Postfix drop an mbox "From " line at the very top; it is never a header field.
        if message.starts(with: Array("From ".utf8)) {
            position = nextLine(in: message, from: position)
        }
        while position < message.count {
            let end = message[position...].firstIndex(of: UInt8(ascii: "\n")) ?? message.count
            let line = message[position..<end]
            if line.isEmpty {
                return (MessageHeader(fields: fields), message[(end + 1)...])
            }
            if let first = line.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t"), !fields.isEmpty {
                fields[fields.count - 1].raw += line + [UInt8(ascii: "\n")]
            } else if let name = fieldName(line) {
                fields.append(HeaderField(name: name, raw: Array(line) + [UInt8(ascii: "\n")]))
            } else {
                break
            }
            position = nextLine(in: message, from: position)
        }
        return (MessageHeader(fields: fields), message[position...])
    }

    /// The values of every field called `name`, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { $0.isNamed(name) }.map(\.value)
    }

    /// Whether any field is called `name`.
    public func contains(_ name: String) -> Bool {
        fields.contains { $0.isNamed(name) }
    }

    /// Removes every field called `name`.
    public mutating func remove(_ name: String) {
        fields.removeAll { $0.isNamed(name) }
    }

    /// Adds `Name: value` after the existing fields.
    public mutating func append(_ name: String, _ value: String) {
        fields.append(HeaderField(name: name, value: value))
    }

    /// The whole message: the fields, the empty line, then `body`.
    public func bytes(body: ArraySlice<UInt8>) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(fields.reduce(0) { $0 + $1.raw.count } + 1 + body.count)
        for field in fields { result += field.raw }
        result.append(UInt8(ascii: "\n"))
        result += body
        return result
    }

    /// The name of the field that `line` starts, or `nil` when it is not one: printable characters
    /// other than `:`, then the colon, with white space allowed before it (RFC 5322 §4.5 obsolete syntax).
    static func fieldName(_ line: ArraySlice<UInt8>) -> String? {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        var nameEnd = colon
        let blanks: [UInt8] = [UInt8(ascii: " "), UInt8(ascii: "\t")]
        while nameEnd > line.startIndex, blanks.contains(line[nameEnd - 1]) {
            nameEnd -= 1
        }
        let name = line[line.startIndex..<nameEnd]
        guard !name.isEmpty, name.allSatisfy({ (33...126).contains($0) }) else { return nil }
        return String(decoding: name, as: UTF8.self)
    }

    private static func nextLine(in message: [UInt8], from position: Int) -> Int {
        guard let end = message[position...].firstIndex(of: UInt8(ascii: "\n")) else { return message.count }
        return end + 1
    }
}
