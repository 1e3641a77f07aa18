/// Every control file of DESIGN.md, read once and typed. Missing files take their defaults.
public struct Configuration: Sendable {
    public var me: String
    public var rcpthosts: DomainList
    public var locals: DomainList
    /// Valid recipients per domain: lowercased local parts; `"@"` marks a catch-all.
    public var validRecipients: [String: Set<String>]
    public var smtpRoutes: SMTPRoutes
    /// Forwarding targets per lowercased `local@domain`.
    public var aliases: [String: [String]]
    public var databytes: Int
    public var timeoutSMTPD: Int
    public var timeoutConnect: Int
    public var timeoutRemote: Int
    public var concurrencyIncoming: Int
    public var concurrencyRemote: Int
    public var concurrencyLocal: Int
    public var queueLifetime: Int
    public var retrySchedule: RetrySchedule
    public var probeInterval: Int
    public var bounceFrom: String
    public var bounceHost: String
    public var doubleBounceTo: String
    public var smtpGreeting: String
    /// Refused senders: lowercased `addr` or `@domain`.
    public var badMailFrom: Set<String>
    public var resolvers: [String]
    public var moreIPMe: [String]
    public var notIPMe: [String]
    public var maildirRoot: String
    public var tlsDestinations: TLSDestinations
    /// `tlsca.pem` and `clientcert.pem` as bytes (PEM), for the TLS client context; nil when absent.
    public var tlsAuthorities: [UInt8]?
    public var clientCertificate: [UInt8]?

    /// The files quail-local needs: a broken file it does not use must not hold up local mail.
    public static let localDeliveryFiles: Set<String> = ["me", "locals", "validrcptto", "aliases", "maildirroot"]
    /// The files quail-smtpd needs, read at every connection: a third of all of them, and a broken smtproutes
    /// or retryschedule is quail-send's trouble, not a reason to turn mail away at the door. `locals`,
    /// `aliases` and `maildirroot` say which local recipients exist.
    public static let smtpdFiles: Set<String> = ["me", "rcpthosts", "locals", "validrcptto", "aliases", "maildirroot",
                                                 "badmailfrom", "databytes", "timeoutsmtpd", "smtpgreeting"]
    /// The files quail-remote needs, read at every delivery.
    public static let remoteDeliveryFiles: Set<String> = ["me", "rcpthosts", "locals", "smtproutes", "resolvers",
                                                          "moreipme", "notipme", "timeoutconnect", "timeoutremote",
                                                          "tlsdestinations", "tlsca.pem", "clientcert.pem"]

    /// Every control file a configuration is made of, for `ControlSnapshot`.
    public static let fileNames: [String] = [
        "me", "rcpthosts", "locals", "validrcptto", "smtproutes", "aliases", "databytes", "timeoutsmtpd",
        "timeoutconnect", "timeoutremote", "concurrencyincoming", "concurrencyremote", "concurrencylocal",
        "queuelifetime", "retryschedule", "probeinterval", "bouncefrom", "bouncehost", "doublebounceto",
        "smtpgreeting", "badmailfrom", "resolvers", "moreipme", "notipme", "maildirroot", "tlsdestinations",
        "tlsca.pem", "clientcert.pem",
    ]

    /// Reads the control files under `home/control`; with `only`, just those, the rest taking their defaults.
    public init(home: QuailHome, only: Set<String>? = nil) throws(ControlError) {
        try self.init(control: ControlDirectory(path: home.control.path, only: only), home: home)
    }

    /// The configuration the files of `snapshot` make: what quail-send parsed, for its delivery workers.
    public init(snapshot: ControlSnapshot, home: QuailHome) throws(ControlError) {
        try self.init(control: ControlDirectory(path: home.control.path, contents: snapshot.files), home: home)
    }

    private init(control: ControlDirectory, home: QuailHome) throws(ControlError) {
        me = try control.string("me", default: Environment.hostName).lowercased()
        rcpthosts = DomainList(try control.lines("rcpthosts")?.map(\.text) ?? [])
        locals = DomainList(try control.lines("locals")?.map(\.text) ?? [me])
        validRecipients = try Configuration.parseValidRecipients(control.lines("validrcptto") ?? [])
        smtpRoutes = SMTPRoutes()
        for line in try control.lines("smtproutes") ?? [] { try smtpRoutes.add(line) }
        aliases = try Configuration.parseAliases(control.lines("aliases") ?? [])
        databytes = try control.number("databytes", default: 20_971_520)
        timeoutSMTPD = try control.positiveNumber("timeoutsmtpd", default: 300)
        timeoutConnect = try control.positiveNumber("timeoutconnect", default: 60)
        timeoutRemote = try control.positiveNumber("timeoutremote", default: 300)
        concurrencyIncoming = try control.positiveNumber("concurrencyincoming", default: 100)
        concurrencyRemote = try control.positiveNumber("concurrencyremote", default: 20)
        concurrencyLocal = try control.positiveNumber("concurrencylocal", default: 10)
        queueLifetime = try control.number("queuelifetime", default: 604_800)
        retrySchedule = try RetrySchedule.parse(control.lines("retryschedule") ?? [])
        probeInterval = try control.positiveNumber("probeinterval", default: 30)
        bounceFrom = try control.string("bouncefrom", default: "MAILER-DAEMON")
        bounceHost = try control.string("bouncehost", default: me)
        doubleBounceTo = try control.string("doublebounceto", default: "postmaster")
        smtpGreeting = try control.string("smtpgreeting", default: me)
        badMailFrom = Set(try control.lines("badmailfrom")?.map { $0.text.lowercased() } ?? [])
        resolvers = try control.lines("resolvers")?.map(\.text) ?? []
        moreIPMe = try control.lines("moreipme")?.map(\.text) ?? []
        notIPMe = try control.lines("notipme")?.map(\.text) ?? []
        let root = try control.string("maildirroot", default: home.path + "/mail")
        // A relative root would depend on whichever directory quail-send was started from.
        maildirRoot = root.hasPrefix("/") ? root : home.path + "/" + root
        tlsDestinations = TLSDestinations()
        for line in try control.lines("tlsdestinations") ?? [] { try tlsDestinations.add(line) }
        tlsAuthorities = try control.bytes("tlsca.pem")
        clientCertificate = try control.bytes("clientcert.pem")
    }

    static func parseValidRecipients(_ lines: [ControlLine]) throws(ControlError) -> [String: Set<String>] {
        var result: [String: Set<String>] = [:]
        for line in lines {
            guard let at = line.text.lastIndex(of: "@"), line.text.index(after: at) != line.text.endIndex else {
                throw .malformed(file: "validrcptto", line: line.number, reason: "expected user@domain or @domain, found \"\(line.text)\"")
            }
            let local = String(line.text[..<at]).lowercased()
            let domain = Address.normalizedDomain(String(line.text[line.text.index(after: at)...]))
            result[domain, default: []].insert(local.isEmpty ? "@" : local)
        }
        return result
    }

    static func parseAliases(_ lines: [ControlLine]) throws(ControlError) -> [String: [String]] {
        var result: [String: [String]] = [:]
        for line in lines {
            guard let colon = line.text.firstIndex(of: ":") else {
                throw .malformed(file: "aliases", line: line.number, reason: "expected local@domain: target, target")
            }
            let key = String(line.text[..<colon]).trimmingWhitespace()
            guard let address = Address(key) else {
                throw .malformed(file: "aliases", line: line.number, reason: "\"\(key)\" is not local@domain")
            }
            let targets = line.text[line.text.index(after: colon)...].split(separator: ",")
                .map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
            guard !targets.isEmpty else {
                throw .malformed(file: "aliases", line: line.number, reason: "no forwarding target for \(key)")
            }
            result[address.description.lowercased(), default: []] += targets
        }
        return result
    }

    /// Whether `validrcptto` has lines for `domain`, so that its unknown users are refused.
    public func validatesRecipients(of domain: String) -> Bool {
        validRecipients[Address.normalizedDomain(domain)] != nil
    }

    /// Whether `address` is a valid recipient: its domain is not validated, or the user or a catch-all is listed.
    /// `postmaster` is always valid (RFC 5321 §4.5.1).
    public func isValidRecipient(_ address: Address) -> Bool {
        guard let users = validRecipients[address.domain] else { return true }
        let local = address.localPart.lowercased()
        return local == "postmaster" || users.contains("@") || users.contains(local)
    }

    /// Whether `address` is delivered locally.
    public func isLocal(_ address: String) -> Bool {
        locals.contains(Address.domain(of: address))
    }
}
