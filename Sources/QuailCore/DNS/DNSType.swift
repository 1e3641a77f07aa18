/// A resource record type (RFC 1035 §3.2.2); any 16-bit value, with names for the ones quail reads.
public struct DNSType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// An IPv4 host address.
    public static let a = DNSType(rawValue: 1)
    /// The canonical name of an alias.
    public static let cname = DNSType(rawValue: 5)
    /// Start of authority: found in the authority section of negative answers (RFC 2308).
    public static let soa = DNSType(rawValue: 6)
    /// Mail exchange.
    public static let mx = DNSType(rawValue: 15)
    /// Text strings (RFC 1035 §3.3.14): MTA-STS's `_mta-sts` record (RFC 8461).
    public static let txt = DNSType(rawValue: 16)
    /// An IPv6 host address (RFC 3596).
    public static let aaaa = DNSType(rawValue: 28)

    public var description: String {
        switch self {
        case .a: "A"
        case .cname: "CNAME"
        case .soa: "SOA"
        case .mx: "MX"
        case .txt: "TXT"
        case .aaaa: "AAAA"
        default: "TYPE\(rawValue)"
        }
    }
}

/// The RCODE of a response header (RFC 1035 §4.1.1).
public struct DNSResponseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// No error: the answer section says what exists.
    public static let noError = DNSResponseCode(rawValue: 0)
    /// The server could not interpret the query.
    public static let formatError = DNSResponseCode(rawValue: 1)
    /// The server failed: a temporary condition.
    public static let serverFailure = DNSResponseCode(rawValue: 2)
    /// NXDOMAIN: the name does not exist (authoritative, so permanent).
    public static let nameError = DNSResponseCode(rawValue: 3)
    /// The server does not support this kind of query.
    public static let notImplemented = DNSResponseCode(rawValue: 4)
    /// The server refuses to answer us.
    public static let refused = DNSResponseCode(rawValue: 5)

    public var description: String {
        switch self {
        case .noError: "NOERROR"
        case .formatError: "FORMERR"
        case .serverFailure: "SERVFAIL"
        case .nameError: "NXDOMAIN"
        case .notImplemented: "NOTIMP"
        case .refused: "REFUSED"
        default: "RCODE\(rawValue)"
        }
    }
}
