/// quail-mxcheck's checks in order: the DNS (MX records, targets, preferences), the domain's MTA-STS policy
/// and each MX host against it, every MX address's greeting, STARTTLS and certificate, then an SMTP session
/// with each backup. The verdicts are made by `DNSChecks`, `MTASTSChecks`, `GreetingCheck`, `TLSChecks` and
/// `BackupChecks`; this type only asks the DNS and the servers.
///
/// Every MX host is reached on port 25, as senders reach it; a BACKUP-HOST given with `:PORT` is reached on
/// that port instead, for its greeting too (a backup behind a port forward, or one being set up).
public struct MXCheck {
    public var domain: String
    /// The backup named on the command line; `nil`: every MX host but the best.
    public var backup: BackupTarget?
    /// Our name for EHLO and the envelope sender's domain.
    public var me: String
    public var resolver: DNSResolver
    /// The client's TLS: the system's trust store plus `control/tlsca.pem`, for STARTTLS and the MTA-STS policy.
    public var tls: TLSContext
    public var connectTimeout: Duration
    public var replyTimeout: Duration
    /// The local part of the unknown-user probe.
    public var unknownUser: String

    /// An interactive check must not sit through qmail's daemon timeouts (60 s connect, 300 s per reply).
    public static let longestConnect: Duration = .seconds(10)
    public static let longestReply: Duration = .seconds(20)

    public init(
        domain: String, backup: BackupTarget?, me: String, resolver: DNSResolver, tls: TLSContext,
        connectTimeout: Duration = longestConnect, replyTimeout: Duration = longestReply,
        unknownUser: String = BackupProbe.randomUser()
    ) {
        self.domain = domain
        self.backup = backup
        self.me = me
        self.resolver = resolver
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.replyTimeout = replyTimeout
        self.unknownUser = unknownUser
    }

    /// Runs every check, handing each line to `report` as soon as it is known (a slow host shows where it is),
    /// and what was found of MTA-STS to `found`.
    public func run(report: (CheckResult) -> Void, found: (MTASTSLookup) -> Void = { _ in })
        throws(MXCheckUnavailable)
    {
        let (mxResults, hosts) = try DNSChecks.mxRecords(domain: domain, answer: resolver.lookup(domain, .mx))
        mxResults.forEach(report)
        let names = Self.uniqueNames(hosts)
        var addresses: [String: [String]] = [:]
        for name in names {
            let found = resolver.addresses(of: name)
            report(try DNSChecks.target(host: name, alias: resolver.lookup(name, .cname), addresses: found))
            if case .addresses(let list) = found { addresses[name] = list }
        }
        let backupMX = backupName(among: hosts, addresses: addresses)
        if let backup {
            report(listedCheck(backup, backupMX, hosts))
        }
        if !hosts.isEmpty { report(DNSChecks.preference(hosts: hosts, backup: backupMX)) }
        let targets = try backupsToProbe(hosts: hosts, backupMX: backupMX, addresses: addresses)
        // A backup outside the MX list: it is checked as the MX hosts are, and has had no greeting yet.
        let outsider = backupMX == nil && backup?.isAddress == false ? targets.first : nil

        let lookup = try mtaSTS()
        found(lookup)
        report(MTASTSChecks.judge(domain: domain, lookup: lookup))
        if let policy = lookup.policyInForce {
            let backups = Set(targets.map(\.name))
            for name in names + (outsider.map { [$0.name] } ?? []) {
                report(MTASTSChecks.mx(host: name, policy: policy, isBackup: backups.contains(name)))
            }
        }
        let enforced = lookup.policyInForce?.mode == .enforce
        var visits = names.flatMap { name in
            (addresses[name] ?? []).map { (name: name, address: $0, port: port(host: name, address: $0)) }
        }
        if let outsider, let address = outsider.address {
            visits.append((outsider.name, address, outsider.port))
        }
        for (name, address, port) in visits {
            let (greeting, outcome) = visit(name, address, port)
            report(GreetingCheck.judge(host: name, address: address, port: port, greeting: greeting))
            guard let outcome else { continue }
            let place = GreetingCheck.place(address, port)
            TLSChecks.judge(host: name, place: place, outcome: outcome, enforced: enforced).forEach(report)
        }
        targets.map(probe).forEach { $0.forEach(report) }
    }

    /// One backup to hold an SMTP session with: its name, the address to use (`nil`: it has none), the port.
    struct Target {
        var name: String
        var address: String?
        var port: UInt16
        /// Why there is no address.
        var missing = "it has no address"
    }

    /// The named backup, or every MX host of a higher preference than the best.
    func backupsToProbe(hosts: [MXHost], backupMX: String?, addresses: [String: [String]]) throws(MXCheckUnavailable)
        -> [Target]
    {
        guard let backup else {
            let names = Self.uniqueNames(DNSChecks.backups(among: hosts))
            return names.map { Target(name: $0, address: addresses[$0]?.first, port: BackupTarget.smtpPort) }
        }
        if backup.isAddress { return [Target(name: backupMX ?? backup.host, address: backup.host, port: backup.port)] }
        if let backupMX { return [Target(name: backupMX, address: addresses[backupMX]?.first, port: backup.port)] }
        var target = Target(name: backup.host, address: nil, port: backup.port)
        switch resolver.addresses(of: backup.host) {
        case .addresses(let list): target.address = list.first
        case .noAddresses: target.missing = "it has no A or AAAA record"
        case .noSuchDomain: target.missing = "it does not exist (NXDOMAIN)"
        case .temporaryFailure(let reason): throw MXCheckUnavailable("DNS: \(reason)")
        }
        return [target]
    }

    /// The SMTP session with one backup, judged; never DATA.
    func probe(_ target: Target) -> [CheckResult] {
        guard let address = target.address else {
            return [
                CheckResult(.fail, .backupAccepts, "\(target.name): \(target.missing); nothing else could be checked")
            ]
        }
        let place = GreetingCheck.place(address, target.port)
        let probes = BackupProbe.all(domain: domain, unknownUser: unknownUser)
        let transcript: BackupConversation.Transcript
        do {
            let connection = try SMTPConnection.open(
                to: address, port: Int(target.port), connectTimeout: connectTimeout, replyTimeout: replyTimeout)
            transcript = BackupConversation(me: me, probes: probes).run(on: connection)
        } catch {
            transcript = BackupConversation.Transcript(replies: [], failure: "\(error)")
        }
        return BackupChecks.judge(host: target.name, place: place, probes: probes, transcript: transcript)
    }

    /// The MX host that is the named backup: by name, or for an address literal, the host with that address.
    func backupName(among hosts: [MXHost], addresses: [String: [String]]) -> String? {
        guard let backup else { return nil }
        if backup.isAddress { return hosts.first { addresses[$0.name]?.contains(backup.host) == true }?.name }
        return hosts.contains { $0.name == backup.host } ? backup.host : nil
    }

    /// The `backup-listed` line: a backup that is no MX host receives nothing from senders.
    func listedCheck(_ backup: BackupTarget, _ backupMX: String?, _ hosts: [MXHost]) -> CheckResult {
        guard let backupMX, let preference = hosts.filter({ $0.name == backupMX }).map(\.preference).min() else {
            return CheckResult(
                .warn, .backupListed,
                "\(backup.host) is not an MX host of \(domain): senders will never use it as a backup")
        }
        return CheckResult(.pass, .backupListed, "\(backupMX) is an MX host of \(domain) (preference \(preference))")
    }

    /// The port for one address: the BACKUP-HOST's port for the backup, 25 for every other MX host.
    func port(host: String, address: String) -> UInt16 {
        guard let backup else { return BackupTarget.smtpPort }
        let isBackup = backup.isAddress ? address == backup.host : host == backup.host
        return isBackup ? backup.port : BackupTarget.smtpPort
    }

    /// Host names in order, each once (a host may be listed at two preferences).
    static func uniqueNames(_ hosts: [MXHost]) -> [String] {
        var seen: Set<String> = []
        return hosts.map(\.name).filter { seen.insert($0).inserted }
    }
}
