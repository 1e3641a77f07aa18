/// Where `smtproutes` sends a domain. qmail: the `smtproutes` control file.
public enum SMTPRoute: Sendable, Equatable {
    /// `domain:` — look up the MX records as usual.
    case mxLookup
    /// `domain:relay[:port]` — hand the mail to `host` (a name, or an `[ip]` literal).
    case relay(host: String, port: Int)
}

/// The parsed `smtproutes` file: exact domains, `.domain` wildcards, and the `:relay` catch-all.
public struct SMTPRoutes: Sendable, Equatable {
    public var exact: [String: SMTPRoute] = [:]
    public var wildcards: [(suffix: String, route: SMTPRoute)] = []
    public var catchAll: SMTPRoute?

    public init() {}

    public static func == (lhs: SMTPRoutes, rhs: SMTPRoutes) -> Bool {
        lhs.exact == rhs.exact && lhs.catchAll == rhs.catchAll
            && lhs.wildcards.map(\.suffix) == rhs.wildcards.map(\.suffix)
            && lhs.wildcards.map(\.route) == rhs.wildcards.map(\.route)
    }

    /// Parses one line: `domain:relay[:port]`, `.domain:relay`, `domain:`, `:relay`.
    public mutating func add(_ line: ControlLine, file: String = "smtproutes") throws(ControlError) {
        guard let colon = line.text.firstIndex(of: ":") else {
            throw .malformed(file: file, line: line.number, reason: "expected domain:relay[:port], found \"\(line.text)\"")
        }
        let domain = Address.normalizedDomain(String(line.text[..<colon]).trimmingWhitespace())
        let target = String(line.text[line.text.index(after: colon)...]).trimmingWhitespace()
        let route: SMTPRoute
        if target.isEmpty {
            route = .mxLookup
        } else {
            guard let (host, port) = SMTPRoutes.parseRelay(target) else {
                throw .malformed(file: file, line: line.number, reason: "bad relay \"\(target)\"")
            }
            route = .relay(host: host, port: port)
        }
        if domain.isEmpty {
            catchAll = route
        } else if domain.hasPrefix(".") {
            wildcards.append((domain, route))
        } else {
            exact[domain] = route
        }
    }

    /// `host`, `host:port`, `[ip]` or `[ip]:port`, port 25 by default.
    static func parseRelay(_ text: String) -> (String, Int)? {
        var host = text
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[...close])
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return nil }
                portText = rest.dropFirst()
            }
        } else if let colon = text.firstIndex(of: ":") {
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains(" ") else { return nil }
        guard let portText else { return (host.lowercased(), 25) }
        guard let port = Int(portText), (1...65535).contains(port) else { return nil }
        return (host.lowercased(), port)
    }

    /// The route a line names for `domain`: exact first, then the longest `.domain` wildcard, then the catch-all.
    /// `nil` means no line applies (plain MX lookup).
    public func explicitRoute(for domain: String) -> SMTPRoute? {
        let domain = Address.normalizedDomain(domain)
        if let route = exact[domain] { return route }
        let wildcard = wildcards.filter { domain.hasSuffix($0.suffix) }.max { $0.suffix.count < $1.suffix.count }
        return wildcard?.route
    }

    /// The route for `domain`: an explicit line, else the catch-all, else MX lookup. The catch-all smarthost is
    /// never used for a domain quail backs up (`backedUp`): its mail must go to the domain's own better MX
    /// hosts, or it would loop through a smarthost that sends it back here.
    public func route(for domain: String, backedUp: Bool) -> SMTPRoute {
        if let route = explicitRoute(for: domain) { return route }
        if let catchAll, !backedUp { return catchAll }
        return .mxLookup
    }
}
