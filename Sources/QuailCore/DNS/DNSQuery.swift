/// Why a name cannot be put in a query: it cannot exist in the DNS, so lookups report it as no such domain.
public enum DNSNameError: Error, Sendable, Hashable {
    /// An empty label (`a..b`, a leading dot), or an empty name.
    case emptyLabel(String)
    /// A label over 63 octets (RFC 1035 §2.3.4).
    case labelTooLong(String)
    /// A name over 255 octets in wire form (RFC 1035 §2.3.4).
    case nameTooLong(String)
    /// A byte that is not printable ASCII: internationalized names must arrive as A-labels (RFC 5891).
    case badCharacter(String)
}

/// One standard query: random id, recursion desired, one question of class IN (RFC 1035 §4.1).
public struct DNSQuery: Sendable, Hashable {
    /// The id the response must echo.
    public var id: UInt16
    /// The name asked about, lowercased, without the trailing dot.
    public var name: String
    /// The type asked for.
    public var type: DNSType
    /// The message in wire form.
    public let bytes: [UInt8]

    /// Builds the query; `id` is random unless given, so off-path guesses of the reply are hard.
    public init(name: String, type: DNSType, id: UInt16 = .random(in: .min ... .max)) throws(DNSNameError) {
        let normalized = Self.normalize(name)
        self.id = id
        self.name = normalized
        self.type = type
        var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        bytes += try Self.wireName(normalized)
        bytes += [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xFF), 0, UInt8(DNSMessage.classIN)]
        self.bytes = bytes
    }

    /// Lowercases ASCII and drops one trailing dot: `Example.COM.` and `example.com` are the same name.
    public static func normalize(_ name: String) -> String {
        var text = Array(name.utf8)
        if text.last == UInt8(ascii: "."), text.count > 1 { text.removeLast() }
        return String(decoding: text.map { (0x41...0x5A).contains($0) ? $0 + 32 : $0 }, as: UTF8.self)
    }

    /// The uncompressed wire form of a normalized name (RFC 1035 §3.1); `\` escapes are not accepted.
    static func wireName(_ name: String) throws(DNSNameError) -> [UInt8] {
        if name == "." { return [0] }
        var wire: [UInt8] = []
        for label in name.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard !label.isEmpty else { throw .emptyLabel(name) }
            guard label.count <= 63 else { throw .labelTooLong(name) }
            guard label.allSatisfy({ (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "\\") }) else {
                throw .badCharacter(name)
            }
            wire.append(UInt8(label.count))
            wire += label
        }
        wire.append(0)
        guard wire.count <= 255 else { throw .nameTooLong(name) }
        return wire
    }
}
