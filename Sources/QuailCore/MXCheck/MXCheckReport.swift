/// Everything quail-mxcheck found, with its exit status and its JSON form.
public struct MXCheckReport: Sendable, Equatable {
    public var domain: String
    public var results: [CheckResult]
    /// Set when the check could not be made (DNS unreachable, control files unreadable).
    public var unavailable: MXCheckUnavailable?
    /// What was found of the domain's MTA-STS; nil when the check stopped before asking.
    public var mtaSTS: MTASTSLookup?

    public init(
        domain: String, results: [CheckResult] = [], unavailable: MXCheckUnavailable? = nil,
        mtaSTS: MTASTSLookup? = nil
    ) {
        self.domain = domain
        self.results = results
        self.unavailable = unavailable
        self.mtaSTS = mtaSTS
    }

    /// 0 when nothing failed (WARNs allowed), 1 when something did, 111 when the check could not be made
    /// (qmail's "temporary failure": try again later).
    public var exitCode: Int32 {
        if unavailable != nil { return 111 }
        return results.contains { $0.status == .fail } ? 1 : 0
    }

    /// The worst status seen, or `ERROR` when the check could not be made.
    public var overall: String {
        if unavailable != nil { return "ERROR" }
        return (results.map(\.status).max() ?? .pass).rawValue
    }

    /// The text form: one `STATUS check reason` line per result.
    public var text: String { results.map { $0.description + "\n" }.joined() }

    /// `{"domain", "checks": [{"status", "check", "reason"}…], "overall", "exit"}`, plus `"mta_sts"` when the
    /// domain publishes a policy (`{"id", "mode", "max_age", "mx": […]}`) and `"error"` when the check could not
    /// be made. One check per line, so it also reads well.
    public var json: String {
        let checks = results.map {
            "    {\"status\": \(jsonString($0.status.rawValue)), \"check\": \(jsonString($0.check.rawValue)), "
                + "\"reason\": \(jsonString($0.reason))}"
        }
        var fields = [
            "\"domain\": \(jsonString(domain))",
            checks.isEmpty ? "\"checks\": []" : "\"checks\": [\n" + checks.joined(separator: ",\n") + "\n  ]",
            "\"overall\": \(jsonString(overall))",
            "\"exit\": \(exitCode)",
        ]
        if case .found(let id, let policy) = mtaSTS {
            let patterns = policy.mx.map(jsonString).joined(separator: ", ")
            fields.append(
                "\"mta_sts\": {\"id\": \(jsonString(id)), \"mode\": \(jsonString(policy.mode.rawValue)), "
                    + "\"max_age\": \(policy.maxAge), \"mx\": [\(patterns)]}")
        }
        if let unavailable { fields.append("\"error\": \(jsonString(unavailable.description))") }
        return "{\n  " + fields.joined(separator: ",\n  ") + "\n}\n"
    }
}
