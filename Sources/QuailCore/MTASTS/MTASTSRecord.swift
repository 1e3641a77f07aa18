/// The `_mta-sts.DOMAIN` TXT record (RFC 8461 §3.1): `v=STSv1; id=20160831085700Z;`. Only its id matters to a
/// sender: a new id means a new policy to fetch.
public struct MTASTSRecord: Sendable, Equatable {
    public var id: String

    /// Parses one record's text (its strings joined); nil unless it starts with `v=STSv1` and has a valid id.
    public init?(_ text: String) {
        let fields = text.split(separator: ";").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
        guard fields.first == "v=STSv1" else { return nil }
        var id: String?
        for field in fields.dropFirst() {
            let pair = field.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { continue }
            if pair[0].trimmingWhitespace() == "id" { id = pair[1].trimmingWhitespace() }
        }
        // RFC 8461 §3.1: sts-id = 1*32( ALPHA / DIGIT ).
        let alphanumeric: (UInt8) -> Bool = { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
        guard let id, (1...32).contains(id.utf8.count), id.utf8.allSatisfy(alphanumeric) else { return nil }
        self.id = id
    }

    /// The record among a TXT answer: exactly one string set that starts with `v=STSv1`; nil for none, or for
    /// several (RFC 8461 §3.1: then the domain is treated as having none).
    public static func find(in answers: [[[UInt8]]]) -> MTASTSRecord? {
        let texts = answers.map { String(decoding: $0.joined(), as: UTF8.self) }.filter { $0.hasPrefix("v=STSv1") }
        guard texts.count == 1 else { return nil }
        return MTASTSRecord(texts[0])
    }
}
