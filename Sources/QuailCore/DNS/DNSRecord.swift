/// One resource record of a type quail understands (RFC 1035 §3.2.1, §4.1.3).
///
/// Names are lowercased, without the trailing dot; the root is the empty string. Bytes that are not
/// printable ASCII, and `.` or `\` inside a label, are written as `\DDD` (RFC 1035 §5.1), so a label can
/// never pass for two.
public struct DNSRecord: Sendable, Hashable {
    /// The owner name.
    public var name: String
    /// Time to live, in seconds.
    public var ttl: UInt32
    /// The parsed RDATA.
    public var data: DNSRecordData
    /// The record's type, the one `data` implies.
    public var type: DNSType { data.type }

    public init(name: String, ttl: UInt32 = 0, data: DNSRecordData) {
        self.name = name
        self.ttl = ttl
        self.data = data
    }
}

/// The RDATA of the record types quail reads; others are skipped by RDLENGTH while parsing.
public enum DNSRecordData: Sendable, Hashable {
    /// RFC 1035 §3.3.9: a preference (lower is better) and the exchange host; `""` is RFC 7505's null MX.
    case mx(preference: UInt16, exchange: String)
    /// RFC 1035 §3.4.1: an IPv4 address in dotted-quad text.
    case a(String)
    /// RFC 3596 §2.2: an IPv6 address in RFC 5952 text.
    case aaaa(String)
    /// RFC 1035 §3.3.1: the canonical name the owner is an alias for.
    case cname(String)
    /// RFC 1035 §3.3.14: one or more character-strings, as bytes; RFC 8461 reads them joined.
    case txt([[UInt8]])

    /// The record type this data belongs to.
    public var type: DNSType {
        switch self {
        case .mx: .mx
        case .a: .a
        case .aaaa: .aaaa
        case .cname: .cname
        case .txt: .txt
        }
    }
}

/// The question a response answers (RFC 1035 §4.1.2).
public struct DNSQuestion: Sendable, Hashable {
    /// The name asked about, lowercased, without the trailing dot.
    public var name: String
    /// The type asked for.
    public var type: DNSType
    /// The class asked for; quail only asks for IN (1).
    public var recordClass: UInt16
}
