import Testing

@testable import QuailCore

@Suite struct QueueReportDomainsTests {
    static let now = 1_000_000

    func message(_ id: QueueID, born: Int, from sender: String = "s@x.test", to recipients: [String], held: Bool = false,
                 _ change: (inout MessageState) -> Void = { _ in }) -> QueueReport.Entry {
        var state = MessageState(birth: born, bytes: 10, offset: 5, envelope: Envelope(sender: sender, recipients: recipients))
        state.held = held
        change(&state)
        return QueueReport.Entry(id: id, state: state)
    }

    var report: QueueReport {
        QueueReport(entries: [
            message(1, born: Self.now - 7200, to: ["a@partner.test", "b@partner.test"]) { state in
                for index in 0..<2 {
                    state.recipients[index].attempts = 3
                    state.recipients[index].nextAttempt = Self.now + 25
                    state.recipients[index].lastAttempt = Self.now - 60
                    state.recipients[index].lastError = "old error"
                }
            },
            message(2, born: Self.now - 30, to: ["c@partner.test", "d@other.test"]) { state in
                state.recipients[0].attempts = 1
                state.recipients[0].nextAttempt = Self.now + 40
                state.recipients[0].lastAttempt = Self.now - 5
                state.recipients[0].lastError = "connect: Connection refused (#4.4.1)"
                state.recipients[1].status = .delivered
            },
            message(3, born: Self.now - 90_000, to: ["e@held.test"], held: true),
        ])
    }

    @Test func aRowPerDomainWithCountsAgesAndTheNewestError() {
        let rows = report.domains
        #expect(rows.map(\.domain) == ["partner.test", "held.test"])
        let partner = rows[0]
        #expect(partner.messages == 2 && partner.recipients == 3 && partner.held == 0)
        #expect(partner.oldest == Self.now - 7200)
        #expect(partner.nextAttempt == Self.now + 25)
        #expect(partner.lastError == "connect: Connection refused (#4.4.1)")
        #expect(rows[1].held == 1 && rows[1].nextAttempt == nil && rows[1].lastError.isEmpty)
    }

    @Test func table() {
        #expect(report.domainTable(now: Self.now) == """
            domain        messages  held  oldest  next attempt  status   last error
            partner.test         2     0  2h00m   in 25s        unknown  connect: Connection refused (#4.4.1)
            held.test            1     1  1d01h   held          unknown  -

            """)
        #expect(QueueReport(entries: []).domainTable(now: Self.now) == "the queue holds nothing for anyone\n")
    }

    @Test func json() {
        let lines = report.domainJSON(now: Self.now).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0] == """
            {"domain": "partner.test", "messages": 2, "recipients": 3, "held": 0, "oldest": 992800, "oldest_age": 7200, \
            "next_attempt": 1000025, "last_attempt": 999995, "last_error": "connect: Connection refused (#4.4.1)", \
            "status": "unknown", "status_since": null, "status_answer": ""}
            """)
        #expect(lines[1].contains("\"next_attempt\": null, \"last_attempt\": null, \"last_error\": \"\""))
    }

    /// The status column and fields: what the destination's published status says, its age relative to `now`.
    @Test func theDestinationStatusShowsInTheTableAndTheJSON() {
        let status = { (domain: String) -> DestinationStatus in
            domain == "partner.test" ? .down(since: Self.now - 300, lastAnswer: "connect: Connection refused") : .up(since: Self.now - 7200, lastAnswer: "250 ok")
        }
        let lines = report.domainTable(now: Self.now, status: status).split(separator: "\n")
        #expect(lines[0].contains("next attempt  status    last error"), "\(lines[0])")
        #expect(lines[1].contains("in 25s        down 5m   connect:"), "\(lines[1])")
        #expect(lines[2].contains("held          up 2h00m  -"), "\(lines[2])")
        let json = report.domainJSON(now: Self.now, status: status).split(separator: "\n")
        #expect(json[0].hasSuffix(#""status": "down", "status_since": 999700, "status_answer": "connect: Connection refused"}"#), "\(json[0])")
        #expect(json[1].hasSuffix(#""status": "up", "status_since": 992800, "status_answer": "250 ok"}"#), "\(json[1])")
    }

    @Test(arguments: [(0, "0s"), (59, "59s"), (60, "1m"), (3599, "59m"), (3600, "1h00m"), (3 * 3600 + 5 * 60, "3h05m"), (2 * 86400 + 4 * 3600, "2d04h")])
    func ages(seconds: Int, text: String) {
        #expect(QueueReport.age(seconds) == text)
    }

    @Test func lastAttemptSurvivesTheRecordAndOldRecordsStillRead() {
        var state = MessageState(birth: 1, bytes: 1, offset: 1, envelope: Envelope(sender: "", recipients: ["a@b.test"]))
        state.recipients[0].lastAttempt = 42
        state.recipients[0].status = .deleted
        #expect(MessageState(decoding: state.encoded) == state)
        let seven = "quail-state 1\nbirth 1\nbytes 1\noffset 1\nheld 1\nsender %\nrcpt pending 2 9 a@b.test boom host\n"
        let old = MessageState(decoding: Array(seven.utf8))
        #expect(old?.recipients[0].lastAttempt == 0 && old?.recipients[0].remoteHost == "host" && old?.held == true)
    }
}
