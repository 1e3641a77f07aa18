/// How much TLS a delivery asks of a host (`control/tlsdestinations`, DESIGN.md "TLS").
public enum TLSLevel: String, Sendable, Comparable, CaseIterable {
    /// Never STARTTLS.
    case none
    /// STARTTLS when offered; a failed handshake is retried in cleartext.
    case may
    /// TLS required, any certificate.
    case encrypt
    /// TLS required with a certificate that chains to a trusted authority and names the host.
    case verify

    private var rank: Int { TLSLevel.allCases.firstIndex(of: self)! }
    public static func < (left: TLSLevel, right: TLSLevel) -> Bool { left.rank < right.rank }
}

/// `control/tlsdestinations`: `domain:LEVEL` for one domain, `.domain:LEVEL` for its subdomains, `:LEVEL` for
/// every other domain; the default without a line is `may`. Looked up by the recipient's domain.
public struct TLSDestinations: Sendable, Equatable {
    private var exact: [String: TLSLevel] = [:]
    private var subdomains: [String: TLSLevel] = [:]
    private var fallback: TLSLevel?

    public init() {}

    /// Adds one line; a malformed one is an error naming the file and the line.
    public mutating func add(_ line: ControlLine) throws(ControlError) {
        guard let colon = line.text.lastIndex(of: ":"),
              let level = TLSLevel(rawValue: String(line.text[line.text.index(after: colon)...]).trimmingWhitespace().lowercased())
        else {
            throw .malformed(file: "tlsdestinations", line: line.number,
                             reason: "expected domain:LEVEL with LEVEL none, may, encrypt or verify, found \"\(line.text)\"")
        }
        let domain = Address.normalizedDomain(String(line.text[..<colon]).trimmingWhitespace())
        if domain.isEmpty {
            fallback = level
        } else if domain.hasPrefix(".") {
            subdomains[String(domain.dropFirst())] = level
        } else {
            exact[domain] = level
        }
    }

    /// The level for `domain`, and whether a line names it (exactly or as a subdomain): such a line wins over the
    /// domain's MTA-STS policy, the default line does not.
    public func level(for domain: String) -> (level: TLSLevel, named: Bool) {
        let domain = Address.normalizedDomain(domain)
        if let level = exact[domain] { return (level, true) }
        var rest = Substring(domain)
        while let dot = rest.firstIndex(of: ".") {
            rest = rest[rest.index(after: dot)...]
            if let level = subdomains[String(rest)] { return (level, true) }
        }
        return (fallback ?? .may, false)
    }
}
