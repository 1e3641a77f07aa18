/// Delivers one message to one domain over SMTP: routing, MX lookup, the backup rule, then hosts in order
/// until one speaks SMTP. qmail: qmail-remote's main()
public struct RemoteDelivery {
    public var config: Configuration
    /// This host's addresses (canonical text), for the backup rule.
    public var localAddresses: Set<String>
    /// What one delivery may spend: addresses, refused sessions, time.
    public var limits: DeliveryLimits
    /// Made on first use, so a relay given as an `[ip]` literal needs no DNS configuration.
    var makeResolver: () throws(DNSConfigError) -> DNSResolver
    /// The client side's TLS settings (trust store, `tlsca.pem`, `clientcert.pem`), or why they could not be made.
    public var tls: Result<TLSContext, TLSError>
    /// Where MTA-STS policies are cached (`queue/mta-sts`); nil: MTA-STS is not looked at.
    public var mtaSTSDirectory: String?

    /// `tls`: the client context a worker made once for its configuration; made here when not given.
    public init(config: Configuration, localAddresses: Set<String>, tls: Result<TLSContext, TLSError>? = nil) {
        self.config = config
        self.localAddresses = localAddresses
        limits = DeliveryLimits(config: config)
        let resolvers = config.resolvers
        makeResolver = { () throws(DNSConfigError) in try DNSResolver(resolvers: resolvers) }
        self.tls = tls ?? RemoteDelivery.tlsContext(config)
    }

    /// The TLS client context `config`'s files make; a worker makes it once and gives it to every delivery.
    public static func tlsContext(_ config: Configuration) -> Result<TLSContext, TLSError> {
        Result { () throws(TLSError) in
            try TLSContext.client(extraAuthorities: config.tlsAuthorities, certificate: config.clientCertificate)
        }
    }

    /// One address to try: the host's name, the address, the port.
    struct Target {
        /// The name the route or MX record gave, or for an `[ip]` relay the address literal itself (RFC 5321
        /// §4.1.3), which is what the `Hup` line and a bounce's `Remote-MTA` then name.
        var host: String
        var address: String
        var port: Int

        /// How texts of our own name the server: `mx.example.com [192.0.2.1]`, or just the literal.
        var label: String { RemoteDelivery.label(host: host, address: address) }
    }

    /// `host [address]`, or only `host` when it is the address literal already.
    static func label(host: String, address: String) -> String {
        RemoteRoute.literalAddress(host) == address ? host : "\(host) [\(address)]"
    }

    /// Delivers `message` (LF line ends, as spooled) from `sender` to `recipients`, all at `domain`: on `kept`,
    /// a session an earlier delivery to this destination left open, when it is still there; else to the hosts
    /// the route gives, within `limits`. The report, and the session when it may carry another message.
    public func deliver(domain: String, sender: String, recipients: [String], message: [UInt8],
                        reusing kept: KeptSession? = nil) -> (report: RemoteReport, kept: KeptSession?) {
        let deadline = ContinuousClock.now + limits.duration
        let client = SMTPClient(me: config.me, sender: sender, recipients: recipients, message: message)
        // A session the server closed or spoke on while idle, or one that failed or was out of step before the
        // content went out, delivered nothing: fall through to a fresh one.
        if let kept {
            kept.connection.deadline = deadline
            defer { kept.connection.deadline = nil }
            if kept.isQuiet,
               let (results, extensions) = client.reuse(kept.connection, extensions: kept.extensions, host: Self.label(host: kept.host, address: kept.address)) {
                var report = RemoteReport(results: results, destination: .up(host: kept.host, address: kept.address))
                report.tls = kept.connection.tls?.description ?? "none"
                return (report, extensions == nil ? nil : kept)
            }
            kept.drop()
        }
        var targets: [Target]
        switch findTargets(for: domain) {
        case .success(let found): targets = found
        case .failure(let report): return (RemoteReport(all: report.result, count: recipients.count, destination: report.destination), nil)
        }
        var level = config.tlsDestinations.level(for: domain).level
        let policy = mtaSTSPolicy(for: domain)
        if let policy {
            let skipped = targets.filter { !policy.matches($0.host) }.map(\.host)
            switch policy.mode {
            case .enforce:
                // RFC 8461 §5: only hosts the policy names, each with a certificate valid for its name.
                targets.removeAll { !policy.matches($0.host) }
                guard !targets.isEmpty else {
                    let reason = RemoteReply.mtaSTSNoMatch(domain, policy)
                    return (RemoteReport(all: .deferred(reason), count: recipients.count, destination: .down(reason)), nil)
                }
                level = .verify
            case .testing:
                for host in Set(skipped).sorted() { Self.logMTASTS(domain, "testing: enforce would skip \(host), which the policy's mx: lines do not name") }
            case .none:
                break
            }
        }
        var last = "no address to try"
        var refusedSessions = 0
        for (tried, target) in targets.enumerated() {
            if let limit = limitReached(tried: tried, of: targets.count, refusedSessions: refusedSessions, deadline: deadline) {
                last += "; \(limit)"
                break
            }
            let (outcome, extensions, connection, replied) = converse(with: target, client: client, level: level, deadline: deadline)
            switch outcome {
            case .unreachable(let reason), .cleartextRetry(let reason):
                last = "\(target.label): \(reason)"
                if replied { refusedSessions += 1 }
            case .spoke(let results):
                guard let connection else { continue }
                let session = extensions.map { KeptSession(connection: connection, host: target.host, address: target.address, extensions: $0) }
                var report = RemoteReport(results: results, destination: .up(host: target.host, address: target.address))
                report.tls = connection.tls?.description ?? "none"
                if policy?.mode == .testing, connection.tls == nil || connection.tls?.verificationFailure != nil {
                    Self.logMTASTS(domain, "testing: enforce would refuse \(target.label): tls=\(report.tls!)")
                }
                return (report, session)
            }
        }
        return (RemoteReport(
            all: .deferred(RemoteReply.unreachable(domain, last: last)), count: recipients.count, destination: .down(last)), nil)
    }

    /// One host: connect and talk, asking of its TLS what the policy for `domain` asks; at `may`, a failed
    /// handshake is followed by one more connection in cleartext (the log says so). `replied`: the host answered
    /// something, so the session counts toward the delivery's refused sessions when nothing came of it.
    func converse(with target: Target, client: SMTPClient, level: TLSLevel, deadline: ContinuousClock.Instant)
        -> (SMTPClient.Outcome, extensions: Set<String>?, connection: SMTPConnection?, replied: Bool)
    {
        var client = client
        if level > .none {
            switch tls {
            case .success(let context): client.tls = TLSPolicy(level: level, context: context, serverName: target.host)
            case .failure(let error):
                // No TLS to be had here: cleartext may do, a required TLS cannot.
                if level >= .encrypt { return (.unreachable("\(error)"), nil, nil, false) }
            }
        }
        for _ in 0..<2 {
            let connection: SMTPConnection
            do {
                connection = try SMTPConnection.open(
                    to: target.address, port: target.port, connectTimeout: .seconds(config.timeoutConnect),
                    replyTimeout: .seconds(config.timeoutRemote), deadline: deadline)
            } catch {
                return (.unreachable("\(error)"), nil, nil, false)
            }
            defer { connection.deadline = nil }
            let (outcome, extensions) = client.runKeeping(on: connection, host: target.label)
            guard case .cleartextRetry(let reason) = outcome else { return (outcome, extensions, connection, connection.hasReplied) }
            Diagnostics.log("quail-remote: \(target.label): \(reason); trying again without TLS")
            client.tls = nil
        }
        return (.unreachable("TLS handshake failed twice"), nil, nil, true)
    }

    /// The MTA-STS policy in force for `domain` (RFC 8461): only for mail routed by MX, and not when a
    /// `tlsdestinations` line names the domain (that line wins; the default line does not).
    func mtaSTSPolicy(for domain: String) -> MTASTSPolicy? {
        guard let mtaSTSDirectory, case .mx = RemoteRoute.decide(for: domain, config: config),
              !config.tlsDestinations.level(for: domain).named,
              case .success(let context) = tls, case .success(let resolver) = resolver()
        else { return nil }
        let policies = MTASTSPolicies(directory: mtaSTSDirectory, resolver: resolver, tls: context,
                                      connectTimeout: .seconds(config.timeoutConnect))
        return policies.policy(for: domain)
    }

    static func logMTASTS(_ domain: String, _ text: String) {
        Diagnostics.log("quail-remote: MTA-STS \(domain): \(text)")
    }

    /// Why no further address may be tried, after `tried` of `count`; nil while the limits allow another.
    private func limitReached(tried: Int, of count: Int, refusedSessions: Int, deadline: ContinuousClock.Instant) -> String? {
        if tried >= limits.addresses { return "\(count - tried) more addresses not tried (at most \(limits.addresses) per delivery)" }
        if refusedSessions >= limits.sessions { return "at most \(limits.sessions) refused sessions per delivery" }
        if ContinuousClock.now >= deadline { return "the delivery's deadline passed" }
        return nil
    }

    /// Why no address could be tried: the result for every recipient and the destination line.
    struct NoTargets: Error {
        var result: DeliveryResult
        var destination: RemoteReport.Destination

        static func temporary(_ text: String, _ reason: String) -> NoTargets {
            NoTargets(result: .deferred(text), destination: .down(reason))
        }

        static func permanent(_ text: String, _ reason: String) -> NoTargets {
            NoTargets(result: .failed(text), destination: .down(reason))
        }
    }

    /// The addresses to try for `domain`, in order, by its route.
    func findTargets(for domain: String) -> Result<[Target], NoTargets> {
        switch RemoteRoute.decide(for: domain, config: config) {
        case .relay(let host, let port):
            if let address = RemoteRoute.literalAddress(host) {
                return .success([Target(host: RemoteRoute.literal(address), address: address, port: port)])
            }
            return resolver().flatMap { resolver in
                switch resolver.addresses(of: host) {
                case .addresses(let addresses): .success(addresses.map { Target(host: host, address: $0, port: port) })
                case .noSuchDomain: .failure(.permanent(RemoteReply.noSuchDomain(host), "no such host \(host)"))
                case .noAddresses: .failure(.permanent(RemoteReply.noAddresses(host), "no address for \(host)"))
                case .temporaryFailure(let reason): .failure(.temporary(RemoteReply.dnsFailure(reason), "DNS: \(reason)"))
                }
            }
        case .mx:
            return resolver().flatMap { mxTargets(for: domain, resolver: $0) }
        }
    }

    private func resolver() -> Result<DNSResolver, NoTargets> {
        do {
            return .success(try makeResolver())
        } catch {
            return .failure(.temporary(RemoteReply.dnsConfiguration(error), "\(error)"))
        }
    }

    /// RFC 5321 §5.1 hosts with their addresses, less what the backup rule drops; port 25.
    private func mxTargets(for domain: String, resolver: DNSResolver) -> Result<[Target], NoTargets> {
        let hosts: [MXHost]
        switch resolver.mxHosts(for: domain) {
        case .hosts(let found): hosts = found
        case .nullMX: return .failure(.permanent(RemoteReply.nullMX, "null MX for \(domain)"))
        case .noSuchDomain: return .failure(.permanent(RemoteReply.noSuchDomain(domain), "no such domain \(domain)"))
        case .temporaryFailure(let reason):
            return .failure(.temporary(RemoteReply.dnsFailure(reason), "DNS: \(reason)"))
        }
        var candidates: [BackupRule.Candidate] = []
        var lastTemporary: String?
        for host in hosts {
            // A host that does not resolve is skipped (qmail does the same); the others may still work.
            switch resolver.addresses(of: host.name) {
            case .addresses(let addresses): candidates.append(BackupRule.Candidate(host: host, addresses: addresses))
            case .temporaryFailure(let reason): lastTemporary = reason
            case .noSuchDomain, .noAddresses: continue
            }
        }
        switch BackupRule.apply(candidates, ours: localAddresses) {
        case .loopsBack:
            return .failure(.temporary(RemoteReply.loopsBack(domain), RemoteReply.loopsBackReason))
        case .hosts(let left) where left.isEmpty:
            if let lastTemporary {
                return .failure(.temporary(RemoteReply.dnsFailure(lastTemporary), "DNS: \(lastTemporary)"))
            }
            return .failure(.permanent(RemoteReply.noAddresses(domain), "no address for \(domain)"))
        case .hosts(let left):
            return .success(left.flatMap { candidate in
                candidate.addresses.map { Target(host: candidate.host.name, address: $0, port: 25) }
            })
        }
    }
}
