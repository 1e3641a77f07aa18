extension Configuration {
    /// Whether quail is a backup MX for `domain`: it accepts mail for it (rcpthosts) but does not deliver it here.
    public func backsUp(_ domain: String) -> Bool {
        rcpthosts.contains(domain) && !locals.contains(domain)
    }

    /// Where remote mail for `domain` goes: the relay an `smtproutes` line names, else MX lookup.
    /// The catch-all smarthost (`:relay`) is never used for a domain we back up: its mail must go to the
    /// domain's own better MX hosts, or it would loop through a smarthost that sends it back here.
    public func route(for domain: String) -> SMTPRoute {
        if let route = smtpRoutes.explicitRoute(for: domain) { return route }
        if let catchAll = smtpRoutes.catchAll, !backsUp(domain) { return catchAll }
        return .mxLookup
    }

    /// The destination recovery-aware retry tracks for `domain`: the relay host when a route names one
    /// (every domain sent to the same relay shares its fate), else the domain itself.
    public func destination(for domain: String) -> String {
        switch route(for: domain) {
        case .relay(let host, let port): "\(host):\(port)"
        case .mxLookup: Address.normalizedDomain(domain)
        }
    }
}
