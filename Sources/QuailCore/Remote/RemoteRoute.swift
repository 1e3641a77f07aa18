/// Where quail-remote takes a domain's mail: a relay named in `smtproutes`, or the domain's MX hosts.
public enum RemoteRoute: Sendable, Equatable {
    /// `host` is a name to resolve or an `[ip]` literal; `port` as `smtproutes` gave it (25 by default).
    case relay(host: String, port: Int)
    /// RFC 5321 §5.1 MX lookup, port 25, with the backup rule.
    case mx

    /// The route for `domain`. qmail: qmail-remote's smtproutes lookup, plus DESIGN.md's rule that a domain
    /// quail backs up (in rcpthosts, not in locals) never takes the catch-all smarthost: the smarthost
    /// could hand it straight back to us, and a backup's job is to reach the primary.
    public static func decide(
        for domain: String, routes: SMTPRoutes, rcpthosts: DomainList, locals: DomainList
    ) -> RemoteRoute {
        RemoteRoute(routes.route(for: domain, backedUp: rcpthosts.contains(domain) && !locals.contains(domain)))
    }

    /// The route for `domain` under `config`.
    public static func decide(for domain: String, config: Configuration) -> RemoteRoute {
        RemoteRoute(config.route(for: domain))
    }

    init(_ route: SMTPRoute) {
        switch route {
        case .mxLookup: self = .mx
        case .relay(let host, let port): self = .relay(host: host, port: port)
        }
    }

    /// The address inside an `[ip]` literal, in canonical text; `nil` for a host name.
    public static func literalAddress(_ host: String) -> String? {
        guard host.hasPrefix("["), host.hasSuffix("]") else { return nil }
        var inner = host.dropFirst().dropLast()
        // RFC 5321 §4.1.3 writes IPv6 literals as [IPv6:…]; smtproutes may use either form.
        if inner.lowercased().hasPrefix("ipv6:") { inner = inner.dropFirst(5) }
        return DNSAddress.octets(String(inner)).map { DNSAddress.text($0[...]) }
    }

    /// The RFC 5321 §4.1.3 address literal of `address` (canonical text): `[192.0.2.1]`, `[IPv6:2001:db8::1]`.
    public static func literal(_ address: String) -> String {
        address.contains(":") ? "[IPv6:\(address)]" : "[\(address)]"
    }
}
