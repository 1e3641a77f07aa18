import Testing

@testable import QuailCore

/// quail-qread's output is read on an admin's terminal, often as root: nothing a stranger put in an address or
/// a server's reply reaches it raw.
@Suite struct QueueReportTests {
    var report: QueueReport {
        var state = MessageState(birth: 1_000_000, bytes: 10, offset: 5, envelope: Envelope(
            sender: "evil\u{1B}]0;owned\u{07}@x.test", recipients: ["a\u{1B}[2Jb@partner.test", "\"c d\"@partner.test"]))
        state.recipients[0].attempts = 2
        state.recipients[0].lastAttempt = 999_990
        state.recipients[0].nextAttempt = 1_000_060
        state.recipients[0].lastError = "451 4.3.0 busy\u{9B}31m now"
        return QueueReport(entries: [QueueReport.Entry(id: 7, state: state)])
    }

    static func hasControlCharacter(_ text: String) -> Bool {
        text.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || (0x7F...0x9F).contains($0.value) }
    }

    @Test func theListingEscapesControlCharacters() {
        let listing = report.listing { _ in false }
        #expect(listing.contains("<evil\\x1b]0;owned\\x07@x.test>"), "\(listing)")
        #expect(listing.contains("\tremote\ta\\x1b[2Jb@partner.test\t(2 attempts, next "), "\(listing)")
        #expect(listing.contains(": 451 4.3.0 busy\\x9b31m now)"), "\(listing)")
        #expect(listing.contains("\tremote\t\"c d\"@partner.test\n"), "\(listing)")
        #expect(!Self.hasControlCharacter(listing))
    }

    @Test func theSummaryAndJSONEscapeThemToo() {
        let table = report.domainTable(now: 1_000_000)
        #expect(table.contains("451 4.3.0 busy\\x9b31m now"), "\(table)")
        #expect(!Self.hasControlCharacter(table))
        let json = report.listingJSON + report.domainJSON(now: 1_000_000)
        #expect(json.contains("busy\\u009b31m now") && json.contains("a\\u001b[2Jb@partner.test"), "\(json)")
        #expect(!Self.hasControlCharacter(json))
    }
}
