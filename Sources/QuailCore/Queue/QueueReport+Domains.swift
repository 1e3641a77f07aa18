/// quail-qread --summary: what the queue holds for whom, and why — a row per recipient domain. Postfix: qshape.
extension QueueReport {
    /// The pending recipients at one domain, across every message.
    public struct DomainSummary: Sendable, Equatable {
        public var domain: String
        /// Messages with at least one pending recipient here.
        public var messages = 0
        public var recipients = 0
        /// Of `messages`, those held by quail-qctl.
        public var held = 0
        /// Arrival of the oldest of them, seconds since the epoch.
        public var oldest = Int.max
        /// The earliest next attempt of a recipient not held; nil when every one is held.
        public var nextAttempt: Int?
        /// When the last attempt here ended, and what it said; 0 and empty when none has been made.
        public var lastAttempt = 0
        public var lastError = ""

        public init(domain: String) { self.domain = domain }
    }

    /// A row per domain with pending recipients, the most messages first (as qshape sorts), then by name.
    public var domains: [DomainSummary] {
        var rows: [String: DomainSummary] = [:]
        for entry in entries {
            var seen: Set<String> = []
            for recipient in entry.state.recipients where recipient.status == .pending {
                let domain = Address.domain(of: recipient.address)
                var row = rows[domain] ?? DomainSummary(domain: domain)
                row.recipients += 1
                if seen.insert(domain).inserted {
                    row.messages += 1
                    if entry.state.held { row.held += 1 }
                    row.oldest = min(row.oldest, entry.state.birth)
                }
                if !entry.state.held { row.nextAttempt = min(row.nextAttempt ?? Int.max, recipient.nextAttempt) }
                // Records from before attempts were timed say 0: any error still beats none.
                if recipient.attempts > 0 && !recipient.lastError.isEmpty && (row.lastError.isEmpty || recipient.lastAttempt > row.lastAttempt) {
                    row.lastAttempt = recipient.lastAttempt
                    row.lastError = recipient.lastError
                }
                rows[domain] = row
            }
        }
        return rows.values.sorted { ($1.messages, $0.domain) < ($0.messages, $1.domain) }
    }

    /// The summary as an aligned table with a header line; times are relative to `now`; domains and errors have
    /// their control characters escaped. `status` gives the status quail-send published for a domain's destination
    /// (`up 5m`, `down 2h00m`, `unknown`).
    public func domainTable(now: Int, status: (String) -> DestinationStatus = { _ in .unknown }) -> String {
        let header = ["domain", "messages", "held", "oldest", "next attempt", "status", "last error"]
        let rows = domains.map { row -> [String] in
            let next = row.nextAttempt.map { $0 <= now ? "now" : "in " + QueueReport.age($0 - now) } ?? "held"
            let known = status(row.domain)
            return [row.domain.isEmpty ? "-" : ControlCharacters.escaped(row.domain), String(row.messages), String(row.held),
                    QueueReport.age(now - row.oldest), next, known.word + (known.since.map { " " + QueueReport.age(now - $0) } ?? ""),
                    row.lastError.isEmpty ? "-" : ControlCharacters.escaped(row.lastError)]
        }
        guard !rows.isEmpty else { return "the queue holds nothing for anyone\n" }
        let widths = header.indices.dropLast().map { column in ([header] + rows).map { $0[column].count }.max()! }
        return ([header] + rows).map { cells in
            cells.indices.map { $0 < widths.count ? cells[$0].padding(to: widths[$0], right: (1...2).contains($0)) : cells[$0] }
                .joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    /// One JSON object per line: domain, messages, recipients, held, oldest, oldest_age, next_attempt,
    /// last_attempt, last_error, then the destination's published status: status (`up`, `down`, `unknown`),
    /// status_since, status_answer (times in epoch seconds, null when there is none).
    public func domainJSON(now: Int, status: (String) -> DestinationStatus = { _ in .unknown }) -> String {
        domains.map { row in
            let known = status(row.domain)
            return "{\"domain\": \(jsonString(row.domain)), \"messages\": \(row.messages), \"recipients\": \(row.recipients), "
                + "\"held\": \(row.held), \"oldest\": \(row.oldest), \"oldest_age\": \(max(0, now - row.oldest)), "
                + "\"next_attempt\": \(row.nextAttempt.map(String.init) ?? "null"), "
                + "\"last_attempt\": \(row.lastAttempt > 0 ? String(row.lastAttempt) : "null"), \"last_error\": \(jsonString(row.lastError)), "
                + "\"status\": \"\(known.word)\", \"status_since\": \(known.since.map(String.init) ?? "null"), "
                + "\"status_answer\": \(jsonString(known.lastAnswer))}\n"
        }.joined()
    }

    /// A short age: `45s`, `12m`, `3h05m`, `2d04h`.
    static func age(_ seconds: Int) -> String {
        let s = max(0, seconds)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" }
        if s < 86400 { return "\(s / 3600)h\(two(s % 3600 / 60))m" }
        return "\(s / 86400)d\(two(s % 86400 / 3600))h"
    }
}

extension String {
    /// Pads with spaces to `width`, on the left when `right` aligns numbers.
    fileprivate func padding(to width: Int, right: Bool) -> String {
        let fill = String(repeating: " ", count: max(0, width - count))
        return right ? fill + self : self + fill
    }
}
