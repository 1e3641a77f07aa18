/// One host to try for a domain's mail, with its MX preference (lower is tried first).
public struct MXHost: Sendable, Hashable {
    /// The exchange's host name, lowercased, without the trailing dot.
    public var name: String
    /// The MX preference; 0 for the implicit MX.
    public var preference: UInt16

    public init(name: String, preference: UInt16) {
        self.name = name
        self.preference = preference
    }

    /// RFC 5321 §5.1: ascending preference, hosts of equal preference in random order to spread load.
    public static func ordered<G: RandomNumberGenerator>(_ hosts: [MXHost], using generator: inout G) -> [MXHost] {
        // Shuffle first, then a stable sort: each group of equal preference keeps its random order.
        let shuffled = hosts.shuffled(using: &generator).enumerated()
        return shuffled.sorted { ($0.element.preference, $0.offset) < ($1.element.preference, $1.offset) }.map(
            \.element)
    }
}

/// Where a domain's mail goes, per RFC 5321 §5.1 and RFC 7505.
public enum MXLookup: Sendable, Hashable {
    /// Hosts to try in order; the domain itself at preference 0 when it has no MX records (implicit MX).
    case hosts([MXHost])
    /// RFC 7505: the domain says it accepts no mail (`MX 0 .`). Permanent.
    case nullMX
    /// NXDOMAIN. Permanent.
    case noSuchDomain
    /// The lookup failed for now.
    case temporaryFailure(String)
}

/// The addresses of one host, in the order to try them.
public enum AddressLookup: Sendable, Hashable {
    /// IPv4 addresses first, then IPv6, as text.
    case addresses([String])
    /// NXDOMAIN. Permanent.
    case noSuchDomain
    /// The name exists but has neither A nor AAAA records. Permanent.
    case noAddresses
    /// The lookup failed for now.
    case temporaryFailure(String)
}

extension DNSResolver {
    /// The hosts that receive mail for `domain` (RFC 5321 §5.1). qmail: dns_mxip
    public func mxHosts(for domain: String) -> MXLookup {
        var generator = SystemRandomNumberGenerator()
        return Self.mxHosts(for: domain, from: lookup(domain, .mx), using: &generator)
    }

    /// Turns the answer to an MX query into hosts to try; separate from the query so it is testable.
    public static func mxHosts<G: RandomNumberGenerator>(
        for domain: String, from result: DNSResult, using generator: inout G
    ) -> MXLookup {
        switch result {
        case .noSuchDomain: return .noSuchDomain
        case .temporaryFailure(let reason): return .temporaryFailure(reason)
        case .noRecords: return .hosts([MXHost(name: DNSQuery.normalize(domain), preference: 0)])
        case .records:
            var hosts: [MXHost] = []
            for case .mx(let preference, let exchange) in result.data {
                hosts.append(MXHost(name: exchange, preference: preference))
            }
            // RFC 7505 §3: an MX whose exchange is the root says "no mail here". A root exchange among
            // real ones is a misconfiguration (§3 forbids it); the real ones still work.
            if hosts.allSatisfy({ $0.name.isEmpty }) { return .nullMX }
            hosts.removeAll { $0.name.isEmpty }
            return .hosts(MXHost.ordered(hosts, using: &generator))
        }
    }

    /// The IPv4 then IPv6 addresses of `host`; an address literal is returned as it is.
    public func addresses(of host: String) -> AddressLookup {
        if let octets = DNSAddress.octets(host) { return .addresses([DNSAddress.text(octets[...])]) }
        let v4 = lookup(host, .a)
        if v4 == .noSuchDomain { return .noSuchDomain }
        return Self.addresses(v4, lookup(host, .aaaa))
    }

    /// Combines the A and AAAA answers: any address found is usable, even when the other query failed.
    static func addresses(_ v4: DNSResult, _ v6: DNSResult) -> AddressLookup {
        var found: [String] = []
        for data in v4.data + v6.data {
            switch data {
            case .a(let text), .aaaa(let text): found.append(text)
            default: continue
            }
        }
        if !found.isEmpty { return .addresses(found) }
        for result in [v4, v6] {
            if case .temporaryFailure(let reason) = result { return .temporaryFailure(reason) }
        }
        return v6 == .noSuchDomain ? .noSuchDomain : .noAddresses
    }
}
