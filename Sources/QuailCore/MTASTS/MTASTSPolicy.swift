/// An MTA-STS policy (RFC 8461 §3.2): `version: STSv1`, `mode`, one `mx:` line per pattern, `max_age`.
public struct MTASTSPolicy: Sendable, Equatable {
    public enum Mode: String, Sendable {
        /// Deliver only to MX hosts that match, over TLS with a valid certificate.
        case enforce
        /// Deliver as usual, and report (here: log) what enforce would have refused.
        case testing
        /// The domain has withdrawn its policy.
        case none
    }

    public var mode: Mode
    /// `mail.example.com`, or `*.example.com` for any one label in front of `example.com`.
    public var mx: [String]
    /// Seconds the policy may be cached.
    public var maxAge: Int

    /// RFC 8461 §3.2 caps max_age at a year, in seconds; a larger one is read as the cap.
    public static let maximumAge = 31_557_600

    /// Parses the policy file's text; nil when it is no valid STSv1 policy.
    public init?(_ text: String) {
        var fields: [String: [String]] = [:]
        for raw in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            guard let colon = raw.firstIndex(of: ":") else { continue }
            let key = String(raw[..<colon]).trimmingWhitespace()
            let value = String(raw[raw.index(after: colon)...]).trimmingWhitespace()
            fields[key, default: []].append(value)
        }
        guard fields["version"]?.first == "STSv1",
              let modeText = fields["mode"]?.first, let mode = Mode(rawValue: modeText),
              let ageText = fields["max_age"]?.first, let age = Int(ageText), age >= 0
        else { return nil }
        let patterns = (fields["mx"] ?? []).map { $0.lowercased() }.filter { !$0.isEmpty }
        // A policy in force must name its hosts (§3.2: "mx" is required unless mode is none).
        if mode != .none && patterns.isEmpty { return nil }
        self.mode = mode
        mx = patterns
        maxAge = min(age, Self.maximumAge)
    }

    /// Whether `host` (an MX host's name) matches one of the `mx:` patterns (RFC 8461 §4.1): exactly, or a
    /// `*.` pattern for one more label in front.
    public func matches(_ host: String) -> Bool { matchingPattern(host) != nil }

    /// The first `mx:` pattern that `host` matches; nil for none.
    public func matchingPattern(_ host: String) -> String? {
        let host = Address.normalizedDomain(host)
        return mx.first { pattern in
            guard pattern.hasPrefix("*.") else { return pattern == host }
            let suffix = pattern.dropFirst(1)
            guard host.hasSuffix(suffix) else { return false }
            let label = host.dropLast(suffix.count)
            return !label.isEmpty && !label.contains(".")
        }
    }
}
