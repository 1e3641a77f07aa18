/// The host quail-mxcheck checks as the backup: a name or an address literal, and the port to reach it on.
public struct BackupTarget: Sendable, Hashable, CustomStringConvertible {
    /// A host name (lowercased, no trailing dot) or an IP address as text.
    public var host: String
    /// Whether `host` is an IP address rather than a name.
    public var isAddress: Bool
    /// The SMTP port; 25 unless `:PORT` was given.
    public var port: UInt16

    /// Senders reach MX hosts on port 25 (RFC 5321 §4.5.4.2 names no other).
    public static let smtpPort: UInt16 = 25

    public init(host: String, isAddress: Bool = false, port: UInt16 = smtpPort) {
        self.host = host
        self.isAddress = isAddress
        self.port = port
    }

    /// Parses `name`, `name:port`, `ip`, `ip:port`, `[ipv6]`, `[ipv6]:port` or a bare IPv6 address.
    public init?(parsing text: String) {
        if let literal = SocketAddress(parsing: text, defaultPort: Self.smtpPort) {
            guard literal.port != 0 else { return nil }
            self.init(host: literal.host, isAddress: true, port: literal.port)
            return
        }
        var name = Substring(text)
        var port = Self.smtpPort
        if let colon = text.lastIndex(of: ":") {
            guard let number = UInt16(text[text.index(after: colon)...]), number != 0 else { return nil }
            name = text[..<colon]
            port = number
        }
        let host = DNSQuery.normalize(String(name))
        guard (try? DNSQuery(name: host, type: .a)) != nil, host != "." else { return nil }
        self.init(host: host, port: port)
    }

    /// `host` or `host:port` when the port is not 25; `[v6]:port` for IPv6.
    public var description: String {
        if port == Self.smtpPort { return host }
        return isAddress && host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// Why the command line could not be used; quail-mxcheck prints the usage and exits 100.
public enum MXCheckUsageError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownOption(String)
    case missingDomain
    case tooManyArguments
    case badBackup(String)

    public var description: String {
        switch self {
        case .unknownOption(let option): "unknown option \(option)"
        case .missingDomain: "no domain given"
        case .tooManyArguments: "too many arguments"
        case .badBackup(let text): "\(text) is not HOST or HOST:PORT"
        }
    }
}

/// The command line of `quail-mxcheck [--json] DOMAIN [BACKUP-HOST[:PORT]]`.
public struct MXCheckOptions: Sendable, Hashable {
    public static let usage = """
        usage: quail-mxcheck [--json] DOMAIN [BACKUP-HOST[:PORT]]
        Checks DOMAIN's MX records and, end to end over SMTP, the backup MX (BACKUP-HOST, or every MX
        host but the best): that it answers, refuses what it must and accepts what it should.
          --json     one JSON report at the end instead of a line per check
        Exit 0 nothing failed, 1 something did, 100 bad usage, 111 could not check.
        """

    /// The domain whose MX set-up is checked, normalized.
    public var domain: String
    /// The backup named on the command line; without it every MX host but the best is checked as one.
    public var backup: BackupTarget?
    /// Print JSON instead of one line per check.
    public var json: Bool

    /// Parses the arguments after the program name; `--json` may stand anywhere, `--` ends the options.
    public init(arguments: [String]) throws(MXCheckUsageError) {
        var positional: [String] = []
        var json = false
        var optionsEnded = false
        for argument in arguments {
            if !optionsEnded && argument == "--" {
                optionsEnded = true
            } else if !optionsEnded && argument == "--json" {
                json = true
            } else if !optionsEnded && argument.hasPrefix("-") {
                throw .unknownOption(argument)
            } else {
                positional.append(argument)
            }
        }
        guard let domain = positional.first, !domain.isEmpty else { throw .missingDomain }
        guard positional.count <= 2 else { throw .tooManyArguments }
        self.domain = DNSQuery.normalize(domain)
        self.json = json
        if positional.count == 2 {
            guard let backup = BackupTarget(parsing: positional[1]) else { throw .badBackup(positional[1]) }
            self.backup = backup
        }
    }
}
