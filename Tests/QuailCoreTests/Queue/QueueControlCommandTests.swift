import Testing

@testable import QuailCore

@Suite struct QueueControlCommandTests {
    static let valid: [([String], QueueControlRequest)] = [
        (["flush"], .flush(domain: nil)),
        (["flush", "Partner.Test."], .flush(domain: "partner.test")),
        (["hold", "#123"], .hold(123)),
        (["release", "123"], .release(123)),
        (["delete", "123"], .delete(.message(123), bounce: false)),
        (["delete", "--bounce", "#7"], .delete(.message(7), bounce: true)),
        (["delete", "--domain", "Partner.TEST"], .delete(.domain("partner.test"), bounce: false)),
        (["delete", "--sender", "<>"], .delete(.sender(""), bounce: false)),
        (["delete", "--sender", "<a@b.test>", "--bounce"], .delete(.sender("a@b.test"), bounce: true)),
        (["requeue"], .requeue),
    ]

    @Test(arguments: valid)
    func parses(arguments: [String], request: QueueControlRequest) throws {
        #expect(try QueueControlCommand(arguments: arguments) == QueueControlCommand(request: request))
    }

    @Test func timeoutGoesAnywhere() throws {
        #expect(try QueueControlCommand(arguments: ["--timeout", "5", "hold", "1"]).timeout == 5)
        #expect(try QueueControlCommand(arguments: ["hold", "1", "--timeout", "0"]).timeout == 0)
    }

    static let invalid: [[String]] = [
        [], ["frobnicate"], ["hold"], ["hold", "abc"], ["hold", "1", "2"], ["release", "#"], ["flush", "a", "b"],
        ["requeue", "x"], ["delete"], ["delete", "1", "--domain", "d.test"], ["delete", "--domain"], ["hold", "1", "--bounce"],
        ["flush", "--domain", "d.test"], ["--timeout", "soon", "flush"], ["delete", "--sender", "a\nflush"], ["--force", "flush"],
    ]

    @Test(arguments: invalid)
    func refusesWithExit100(arguments: [String]) {
        #expect(throws: QueueControlError.self) { try QueueControlCommand(arguments: arguments) }
        do { _ = try QueueControlCommand(arguments: arguments) } catch { #expect(error.exitCode == 100) }
    }

    @Test func exitCodes() {
        #expect(QueueControlError.unknownID(5).exitCode == 100)
        #expect(QueueControlError.temporary("busy").exitCode == 111)
        #expect(QueueControlError.unknownID(5).description == "no message #5 in the queue")
    }

    /// What quail-qctl writes on the FIFO is what quail-send reads back, sender spaces included.
    @Test(arguments: valid.map(\.1) + [.delete(.sender("john doe@d.test"), bounce: true), .etrn(domain: "partner.test")])
    func fifoLinesRoundTrip(request: QueueControlRequest) {
        #expect(QueueControlRequest(line: Substring(request.line)) == request)
    }

    @Test(arguments: ["", "flush a b", "etrn", "etrn ", "etrn a b", "hold", "hold x", "delete 5", "delete id", "delete domain ", "delete-bounce what 1", "requeue now"])
    func badFIFOLinesAreRefused(_ line: String) {
        #expect(QueueControlRequest(line: Substring(line)) == nil)
    }

    /// ETRN has a line of its own, so quail-send can limit ETRN flushes and leave quail-qctl's alone.
    @Test func etrnLineIsNotAFlush() {
        #expect(QueueControlRequest(line: "etrn partner.test") == .etrn(domain: "partner.test"))
        #expect(QueueControlRequest.etrn(domain: "partner.test").line == "etrn partner.test")
    }

    @Test func selectionsPickPendingRecipients() {
        var state = MessageState(birth: 1, bytes: 1, offset: 1,
                                 envelope: Envelope(sender: "Boss@Example.test", recipients: ["a@p.test", "b@P.test", "c@q.test"]))
        state.recipients[1].status = .delivered
        #expect(QueueSelection.domain("p.test").recipients(of: state, id: 9) == [0])
        #expect(QueueSelection.sender("boss@example.TEST").recipients(of: state, id: 9) == [0, 2])
        #expect(QueueSelection.message(9).recipients(of: state, id: 9) == [0, 2])
        #expect(QueueSelection.message(8).recipients(of: state, id: 9).isEmpty)
        state.delete([0], bounce: false)
        state.delete([2], bounce: true)
        #expect(state.recipients.map(\.status) == [.deleted, .delivered, .failed])
        #expect(Bounce.status(from: state.recipients[2].lastError) == "5.0.0")
        #expect(!state.isFinished)
        state.recipients[2].status = .bounced
        #expect(state.isFinished)
    }
}
