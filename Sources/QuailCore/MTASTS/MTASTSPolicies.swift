import Glibc

/// Which MTA-STS policy is in force for a domain (RFC 8461 §5): the `_mta-sts` TXT record says whether there is
/// one and its id; a policy cached under that id serves until its max_age; a new id, or none cached, means a
/// fetch. A cached policy stays in force until its max_age even when the record vanishes or a refetch fails
/// (§5.1). The cache is one small file per domain under `queue/mta-sts/`, written by rename, shared by every
/// worker and kept across restarts.
public struct MTASTSPolicies {
    var directory: String
    var resolver: DNSResolver
    var fetcher: MTASTSFetch

    public init(directory: String, resolver: DNSResolver, tls: TLSContext, connectTimeout: Duration) {
        self.directory = directory
        self.resolver = resolver
        fetcher = MTASTSFetch(resolver: resolver, tls: tls, connectTimeout: connectTimeout)
    }

    /// The policy in force for `domain` now, nil when there is none; what happened on the way is logged.
    public func policy(for domain: String, now: Int = MailDate.now()) -> MTASTSPolicy? {
        let domain = Address.normalizedDomain(domain)
        // The domain names a file: a name that is not plain letters, digits, dots and dashes gets no policy.
        guard !domain.isEmpty, !domain.hasPrefix("."), domain.utf8.allSatisfy(Self.isNameByte) else { return nil }
        let cached = read(domain).flatMap { $0.fetched + $0.policy.maxAge > now ? $0 : nil }
        let record: MTASTSRecord?
        switch resolver.lookup("_mta-sts." + domain, .txt) {
        case .records(let records):
            record = MTASTSRecord.find(in: records.compactMap { if case .txt(let strings) = $0.data { strings } else { nil } })
        case .noSuchDomain, .noRecords, .temporaryFailure:
            record = nil
        }
        guard let record else { return cached?.policy }
        if let cached, cached.id == record.id { return cached.policy }
        switch fetcher.fetch(domain) {
        case .success(let text):
            guard let policy = MTASTSPolicy(text) else {
                log(domain, "the policy fetched for id \(record.id) is not a valid STSv1 policy; keeping what was cached")
                return cached?.policy
            }
            write(CachedPolicy(id: record.id, fetched: now, text: text, policy: policy), for: domain)
            log(domain, "policy id \(record.id): mode \(policy.mode.rawValue), max_age \(policy.maxAge), mx \(policy.mx.joined(separator: ","))")
            return policy
        case .failure(let failure):
            log(domain, "cannot fetch the policy for id \(record.id): \(failure)" + (cached == nil ? "" : "; keeping the cached one"))
            return cached?.policy
        }
    }

    struct CachedPolicy {
        var id: String
        var fetched: Int
        var text: String
        var policy: MTASTSPolicy
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) || byte == 0x2E || byte == 0x2D
    }

    /// `id ID`, `fetched SECONDS`, a blank line, then the policy's text as fetched.
    func read(_ domain: String) -> CachedPolicy? {
        guard let bytes = try? FileIO.readFile(directory + "/" + domain) else { return nil }
        guard let blank = bytes.firstRange(of: [0x0A, 0x0A]) else { return nil }
        var id: String?
        var fetched: Int?
        for line in String(decoding: bytes[..<blank.lowerBound], as: UTF8.self).split(separator: "\n") {
            let pair = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { continue }
            if pair[0] == "id" { id = pair[1] }
            if pair[0] == "fetched" { fetched = Int(pair[1]) }
        }
        let body = String(decoding: bytes[blank.upperBound...], as: UTF8.self)
        guard let id, let fetched, let policy = MTASTSPolicy(body) else { return nil }
        return CachedPolicy(id: id, fetched: fetched, text: body, policy: policy)
    }

    func write(_ entry: CachedPolicy, for domain: String) {
        let content = "id \(entry.id)\nfetched \(entry.fetched)\n\n\(entry.text)"
        let scratch = "\(directory)/.\(domain).\(getpid())"
        do {
            _ = mkdir(directory, 0o700)
            let fd = try FileIO.open(scratch, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            defer { close(fd) }
            try FileIO.writeAll(fd, content)
            try FileIO.rename(scratch, directory + "/" + domain)
        } catch {
            unlink(scratch)
            log(domain, "cannot cache the policy in \(directory): \(error)")
        }
    }

    private func log(_ domain: String, _ text: String) {
        Diagnostics.log("quail-remote: MTA-STS \(domain): \(text)")
    }
}
