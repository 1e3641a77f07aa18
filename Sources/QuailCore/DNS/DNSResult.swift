/// The outcome of one lookup, in the terms a mail sender must act on (RFC 5321 §5.1, RFC 2308).
public enum DNSResult: Sendable, Hashable {
    /// Records of the type asked for, owned by the name or, through CNAMEs, by its canonical name.
    case records([DNSRecord])
    /// NXDOMAIN: the name does not exist. Permanent.
    case noSuchDomain
    /// The name exists but has no records of this type. Permanent for this type (MX falls back to A/AAAA).
    case noRecords
    /// SERVFAIL, REFUSED, no answer from any server, a malformed answer, a network error. Try later.
    case temporaryFailure(String)

    /// The RDATA of `.records`; empty for every other outcome.
    public var data: [DNSRecordData] {
        if case .records(let records) = self { return records.map(\.data) }
        return []
    }
}
