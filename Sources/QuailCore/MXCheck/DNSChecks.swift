/// The DNS half of quail-mxcheck as pure functions over answers, so every verdict is testable offline.
///
/// Each returns the result lines; a DNS answer that is a temporary failure is not a verdict but a reason
/// the whole check cannot be made, thrown as `MXCheckUnavailable`.
public enum DNSChecks {
    /// The MX records of `domain`, best first (equal preferences by name, so the report is stable), and
    /// the `mx-records` lines about them.
    public static func mxRecords(domain: String, answer: DNSResult) throws(MXCheckUnavailable)
        -> (results: [CheckResult], hosts: [MXHost])
    {
        switch answer {
        case .temporaryFailure(let reason):
            throw MXCheckUnavailable("DNS: \(reason)")
        case .noSuchDomain:
            return ([CheckResult(.fail, .mxRecords, "\(domain) does not exist (NXDOMAIN)")], [])
        case .noRecords:
            let reason =
                "\(domain) has no MX records: senders use its own address (RFC 5321 §5.1) and no backup is listed"
            return ([CheckResult(.fail, .mxRecords, reason)], [])
        case .records:
            var hosts: [MXHost] = []
            for case .mx(let preference, let exchange) in answer.data {
                hosts.append(MXHost(name: exchange, preference: preference))
            }
            // RFC 7505 §3: the root as exchange means "no mail here".
            let nullCount = hosts.count(where: { $0.name.isEmpty })
            hosts.removeAll { $0.name.isEmpty }
            hosts.sort { ($0.preference, $0.name) < ($1.preference, $1.name) }
            guard !hosts.isEmpty else {
                return ([CheckResult(.fail, .mxRecords, "\(domain) has a null MX (RFC 7505): it accepts no mail")], [])
            }
            let listing = hosts.map { "\($0.preference) \($0.name)" }.joined(separator: ", ")
            var results = [
                CheckResult(.pass, .mxRecords, "\(domain) has \(count(hosts.count, "MX record")): \(listing)")
            ]
            if nullCount > 0 {
                results.append(
                    CheckResult(
                        .fail, .mxRecords, "\(domain) mixes a null MX with real ones, which RFC 7505 §3 forbids"))
            }
            return (results, hosts)
        }
    }

    /// The `mx-target` line for one MX host: an alias is a mistake even when it resolves, and a host needs an
    /// address. `alias` answers a CNAME query for `host`; `addresses` its A and AAAA lookups.
    public static func target(host: String, alias: DNSResult, addresses: AddressLookup) throws(MXCheckUnavailable)
        -> CheckResult
    {
        if case .temporaryFailure(let reason) = alias { throw MXCheckUnavailable("DNS: \(reason)") }
        if case .temporaryFailure(let reason) = addresses { throw MXCheckUnavailable("DNS: \(reason)") }
        if case .cname(let canonical) = alias.data.first {
            // sendmail's "mail loops back to me (MX problem?)": a backup that knows itself by the canonical
            // name does not recognise the alias in the MX list.
            return CheckResult(
                .fail, .mxTarget,
                "\(host) is an alias (CNAME) for \(canonical): an MX must name a host with its own A or AAAA record "
                    + "(RFC 2181 §10.3), or a backup may not recognise itself and loop mail")
        }
        switch addresses {
        case .addresses(let list):
            return CheckResult(
                .pass, .mxTarget,
                "\(host) has its own \(list.count == 1 ? "address" : "addresses") \(list.joined(separator: ", "))")
        case .noAddresses:
            return CheckResult(.fail, .mxTarget, "\(host) has no A or AAAA record: senders cannot reach it")
        case .noSuchDomain:
            return CheckResult(.fail, .mxTarget, "\(host) does not exist (NXDOMAIN): senders cannot reach it")
        case .temporaryFailure(let reason):
            throw MXCheckUnavailable("DNS: \(reason)")
        }
    }

    /// The `mx-preference` line: the primary must have the lowest preference and the backup a higher one.
    ///
    /// With `backup` (an MX host's name) the backup is judged against the best of the others; without, the
    /// best host is the primary and every host of a higher preference a backup.
    public static func preference(hosts: [MXHost], backup: String?) -> CheckResult {
        guard let backup else { return preferenceWithoutBackup(hosts) }
        let others = hosts.filter { $0.name != backup }
        guard let primary = others.min(by: { ($0.preference, $0.name) < ($1.preference, $1.name) }),
            let own = hosts.filter({ $0.name == backup }).map(\.preference).min()
        else {
            return CheckResult(.fail, .mxPreference, "\(backup) is the only MX host: there is no primary to back up")
        }
        if own > primary.preference {
            return CheckResult(
                .pass, .mxPreference,
                "the primary \(primary.name) (\(primary.preference)) is preferred to the backup \(backup) (\(own))")
        }
        if own == primary.preference {
            return CheckResult(
                .fail, .mxPreference,
                "the backup \(backup) has preference \(own), the same as the primary \(primary.name): senders pick "
                    + "either at random, so the backup takes mail while the primary is up")
        }
        return CheckResult(
            .fail, .mxPreference,
            "the backup \(backup) has preference \(own), lower than the primary \(primary.name) "
                + "(\(primary.preference)): senders try the backup first; the primary must have the lowest preference")
    }

    static func preferenceWithoutBackup(_ hosts: [MXHost]) -> CheckResult {
        guard let best = hosts.map(\.preference).min() else {
            return CheckResult(.fail, .mxPreference, "no MX host to judge")
        }
        let primaries = hosts.filter { $0.preference == best }
        let backups = hosts.filter { $0.preference > best }
        guard !backups.isEmpty else {
            let names = primaries.map(\.name).joined(separator: ", ")
            return CheckResult(
                .warn, .mxPreference,
                primaries.count == 1
                    ? "\(names) is the only MX host: there is no backup"
                    : "every MX host has preference \(best) (\(names)): none is a backup")
        }
        let listing = backups.map { "\($0.name) (\($0.preference))" }.joined(separator: ", ")
        let primaryText = primaries.map(\.name).joined(separator: ", ")
        let noun = backups.count == 1 ? "backup" : "backups"
        return CheckResult(
            .pass, .mxPreference, "the primary \(primaryText) has the lowest preference (\(best)); \(noun): \(listing)")
    }

    /// The hosts checked as backups when none is named: every host of a higher preference than the best.
    public static func backups(among hosts: [MXHost]) -> [MXHost] {
        guard let best = hosts.map(\.preference).min() else { return [] }
        return hosts.filter { $0.preference > best }
    }

    /// `1 MX record`, `2 MX records`.
    static func count(_ number: Int, _ noun: String) -> String { "\(number) \(noun)\(number == 1 ? "" : "s")" }
}
