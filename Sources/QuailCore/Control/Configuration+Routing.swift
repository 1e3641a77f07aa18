extension Configuration {
    /// Whether quail is a backup MX for `domain`: it accepts mail for it (rcpthosts) but does not deliver it here.
    public func backsUp(_ domain: String) -> Bool {
        rcpthosts.contains(domain) && !locals.contains(domain)
    }

    /// Where remote mail for `domain` goes (see `SMTPRoutes.route(for:backedUp:)`).
    public func route(for domain: String) -> SMTPRoute {
        smtpRoutes.route(for: domain, backedUp: backsUp(domain))
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
