/// What quail-mxcheck found of a domain's MTA-STS (RFC 8461): the `_mta-sts` TXT record and the policy it
/// announces, fetched as a sender without a cached policy would.
public enum MTASTSLookup: Sendable, Equatable {
    /// No TXT record starts with `v=STSv1`: the domain publishes no policy.
    case none
    /// Records that start with `v=STSv1` but make no valid one (several, or no valid id): why.
    case badRecord(String)
    /// The record's policy could not be fetched: why.
    case unfetchable(id: String, reason: String)
    /// The fetched text is no valid STSv1 policy.
    case invalidPolicy(id: String)
    case found(id: String, MTASTSPolicy)

    /// The policy senders apply: nil without one, or when it is withdrawn (mode none).
    public var policyInForce: MTASTSPolicy? {
        guard case .found(_, let policy) = self, policy.mode != .none else { return nil }
        return policy
    }
}

/// The `mta-sts` and `mta-sts-mx` checks: the domain's policy as senders get it, and each MX host against
/// its `mx:` patterns (RFC 8461 §4.1: senders in enforce mode deliver to no other host).
public enum MTASTSChecks {
    public static func judge(domain: String, lookup: MTASTSLookup) -> CheckResult {
        let record = "_mta-sts.\(domain)"
        switch lookup {
        case .none:
            return CheckResult(
                .pass, .mtaSTS,
                "\(domain) publishes no MTA-STS policy (no \(record) TXT record): senders use TLS when offered "
                    + "but do not require it")
        case .badRecord(let why):
            return CheckResult(.warn, .mtaSTS, "\(record): \(why): senders see no MTA-STS policy")
        case .unfetchable(let id, let reason):
            return CheckResult(
                .fail, .mtaSTS,
                "\(record) announces policy id \(id), which cannot be fetched: \(reason): senders without a cached "
                    + "policy see none, and those with one keep it until its max_age")
        case .invalidPolicy(let id):
            return CheckResult(
                .fail, .mtaSTS,
                "\(record) announces policy id \(id), but https://mta-sts.\(domain)/.well-known/mta-sts.txt is no "
                    + "valid STSv1 policy: senders ignore it")
        case .found(let id, let policy):
            let withdrawn = policy.mode == .none ? " (withdrawn)" : ""
            let patterns = policy.mx.isEmpty ? "" : ", mx: " + policy.mx.joined(separator: " ")
            return CheckResult(
                .pass, .mtaSTS,
                "\(domain) publishes MTA-STS policy id \(id): mode \(policy.mode.rawValue)\(withdrawn), max_age "
                    + "\(policy.maxAge) (\(TLSChecks.span(policy.maxAge)))\(patterns)")
        }
    }

    /// One MX host (or the backup named on the command line) against the policy's `mx:` patterns.
    public static func mx(host: String, policy: MTASTSPolicy, isBackup: Bool) -> CheckResult {
        if let pattern = policy.matchingPattern(host) {
            return CheckResult(.pass, .mtaSTSMX, "\(host) matches the MTA-STS policy's mx: \(pattern)")
        }
        let skipped =
            policy.mode == .enforce
            ? "senders that enforce the policy never deliver to it"
            : "once the mode is enforce, senders that honour it will never deliver to it"
        let role = isBackup ? ", so it is no backup for them" : ""
        return CheckResult(
            .fail, .mtaSTSMX,
            "\(host) matches none of the MTA-STS policy's mx: patterns (\(policy.mx.joined(separator: " "))): "
                + skipped + role)
    }
}
