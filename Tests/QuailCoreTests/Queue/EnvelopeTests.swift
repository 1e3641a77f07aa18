import Testing

@testable import QuailCore

@Suite struct EnvelopeTests {
    @Test func roundTrips() throws {
        let envelope = Envelope(sender: "a@b.test", recipients: ["c@d.test", "e@f.test"])
        #expect(envelope.encoded == Array("Fa@b.test\0Tc@d.test\0Te@f.test\0\0".utf8))
        #expect(try Envelope.parse(envelope.encoded) == envelope)
    }

    @Test func nullSender() throws {
        #expect(try Envelope.parse(Array("F\0Tx@y.test\0\0".utf8)).sender == "")
    }

    @Test(arguments: ["", "F\0\0", "Tx@y\0\0", "Fa\0Tx\0", "Fa\0Xx\0\0", "Fa\0Tx\0\0trailing", "Fa\0Fb\0Tx\0\0"])
    func malformedEnvelopesAreRefused(_ text: String) {
        #expect(throws: QueueFailure.envelopeFormat) { try Envelope.parse(Array(text.utf8)) }
    }

    @Test func overlongAddressIsExit11() {
        let long = String(repeating: "a", count: 1001) + "@b.test"
        #expect(throws: QueueFailure.addressTooLong) { try Envelope.parse(Array("Fx@y\0T\(long)\0\0".utf8)) }
    }

    @Test func permanentCodesAreElevenToForty() {
        #expect(QueueFailure.addressTooLong.isPermanent && QueueFailure.permanentlyRefused.isPermanent)
        #expect(!QueueFailure.writeFailed.isPermanent && !QueueFailure.envelopeFormat.isPermanent)
        #expect(QueueFailure.text(forExitCode: 53) == "qq write error or disk full (#4.3.0)")
    }

    @Test func injectorDiesBeforeSendCleansUp() {
        #expect(QueueTiming.injectorDeadline < QueueTiming.ossified)
    }
}

@Suite struct MessageStateTests {
    @Test func roundTripsWithAwkwardText() {
        var state = MessageState(birth: 1000, bytes: 4096, offset: 30,
                                 envelope: Envelope(sender: "", recipients: ["a b@c.test", "ü%@d.test"]))
        state.recipients[0].status = .delivered
        state.recipients[1].attempts = 3
        state.recipients[1].nextAttempt = 5000
        state.recipients[1].lastError = "451 try later\nsecond line 100%"
        state.held = true
        #expect(MessageState(decoding: state.encoded) == state)
    }

    @Test(arguments: ["", "quail-state 2\n", "quail-state 1\nbirth x\n", "quail-state 1\nbirth 1\nbytes 1\noffset 1\nsender %\n",
                      "quail-state 1\nbirth 1\nbytes 1\noffset 1\nsender %\nrcpt weird 0 0 a %\n"])
    func damagedRecordsAreRefused(_ text: String) {
        #expect(MessageState(decoding: Array(text.utf8)) == nil)
    }
}

@Suite struct TimerHeapTests {
    @Test func popsInTimeOrderAndOnlyWhenDue() {
        var heap = TimerHeap()
        for (due, id) in [(50, 5), (10, 1), (30, 3), (20, 2), (40, 4)] { heap.push(due, QueueID(id)) }
        #expect(heap.popDue(5) == nil)
        var popped: [QueueID] = []
        while let id = heap.popDue(35) { popped.append(id) }
        #expect(popped == [1, 2, 3])
        #expect(heap.nextDue == 40)
    }
}
