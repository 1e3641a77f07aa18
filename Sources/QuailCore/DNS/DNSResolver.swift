/// A stub resolver: asks recursive servers over UDP, over TCP when an answer is truncated, and follows
/// CNAMEs. Synchronous, for one-shot programs such as quail-remote. qmail: dns.c
public struct DNSResolver: Sendable {
    /// The servers, asked in order.
    public var servers: [DNSServer]
    /// How long one try waits for its answer.
    public var timeout: Duration
    /// How many times each server is asked before the lookup fails temporarily.
    public var triesPerServer: Int
    /// CNAME hops followed before giving up; RFC 1034 §3.6.2 discourages chains, and loops must end.
    public var maximumCNAMEHops = 8

    /// Without EDNS a server sends at most 512 octets over UDP (RFC 1035 §4.2.1); some send more anyway.
    static let udpLimit = 4096

    public init(servers: [DNSServer], timeout: Duration = .seconds(2), triesPerServer: Int = 2) {
        precondition(!servers.isEmpty && triesPerServer > 0, "a resolver needs a server and a try")
        self.servers = servers
        self.timeout = timeout
        self.triesPerServer = triesPerServer
    }

    /// Servers from `control/resolvers` lines; with none, the `nameserver` lines of `resolvConf`.
    public init(
        resolvers: [String], resolvConf: String = "/etc/resolv.conf", timeout: Duration = .seconds(2),
        triesPerServer: Int = 2
    ) throws(DNSConfigError) {
        var servers: [DNSServer] = []
        for line in resolvers { servers.append(try DNSServer(parsing: line)) }
        if servers.isEmpty { servers = try DNSServer.fromResolvConf(path: resolvConf) }
        self.init(servers: servers, timeout: timeout, triesPerServer: triesPerServer)
    }

    /// Looks up records of `type` for `name`, following CNAMEs unless CNAME itself is asked for.
    public func lookup(_ name: String, _ type: DNSType) -> DNSResult {
        var current = DNSQuery.normalize(name)
        var hops = 0
        while true {
            let query: DNSQuery
            do {
                query = try DNSQuery(name: current, type: type)
            } catch {
                return .noSuchDomain  // a name that cannot be encoded cannot exist in the DNS
            }
            let response: DNSResponse
            do {
                response = try exchange(query)
            } catch {
                return .temporaryFailure("\(current) \(type): \(error)")
            }
            switch response.responseCode {
            case .noError: break
            // RFC 2308 §2.1 / RFC 6604: after CNAMEs NXDOMAIN is about the last target, and the name still has no data.
            case .nameError: return .noSuchDomain
            default: return .temporaryFailure("\(current) \(type): \(response.responseCode)")
            }
            // RFC 1034 §5.3.3 step 3: a server may answer with the chain and the target's records in one go.
            while type != .cname, let target = Self.alias(of: current, in: response.answers) {
                hops += 1
                guard hops <= maximumCNAMEHops else { return .temporaryFailure("\(name): CNAME chain too long") }
                current = target
            }
            let records = response.answers.filter { $0.name == current && $0.type == type }
            if !records.isEmpty { return .records(records) }
            // The chain ended at a name this answer says nothing about: ask about that name itself.
            if current != response.questions.first?.name { continue }
            return .noRecords
        }
    }

    /// The CNAME target of `name` in `records`, if any.
    static func alias(of name: String, in records: [DNSRecord]) -> String? {
        for record in records where record.name == name {
            if case .cname(let target) = record.data { return target }
        }
        return nil
    }
}
