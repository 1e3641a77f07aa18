import Glibc
import Testing

@testable import QuailCore

/// A committed spool file read back: the envelope, where the message starts, and its first bytes for the log.
@Suite struct SpoolFileTests {
    func spool(_ envelope: Envelope, _ message: String) throws -> String {
        let path = try makeScratchDirectory() + "/spool"
        writeFile(path, String(decoding: envelope.encoded, as: UTF8.self) + message)
        return path
    }

    @Test func theMessagesFirstBytesComeWithTheEnvelope() throws {
        let envelope = Envelope(sender: "s@a.test", recipients: ["r@b.test"])
        let message = "Received: (quail 4242 invoked by uid 0); 3 Dec 2026 12:00:00 -0000\nSubject: x\n\nbody\n"
        let read = try #require(try SpoolFile.read(try spool(envelope, message)))
        #expect(read.envelope == envelope)
        #expect(read.messageOffset == envelope.encoded.count)
        #expect(read.messageBytes == message.utf8.count)
        #expect(Array(read.messageHead) == Array(message.utf8))
    }

    @Test func anEnvelopeThatFillsTheFirstReadStillBringsTheMessagesHead() throws {
        // An envelope that ends 10 bytes before the first read's end: the read goes on for the rest of the head,
        // so that quail-send's log (Scheduler.takeIn) finds the whole first line without a read of its own.
        let recipients = (0..<160).map { "recipient\($0)@b.test" }
        var envelope = Envelope(sender: "s@a.test", recipients: recipients)
        while envelope.encoded.count < 4096 - 10 { envelope.sender = "x" + envelope.sender }
        try #require(envelope.encoded.count == 4096 - 10)
        let message = String(repeating: "Received: line\n", count: 20)
        let read = try #require(try SpoolFile.read(try spool(envelope, message)))
        #expect(read.envelope == envelope)
        #expect(Array(read.messageHead) == Array(message.utf8.prefix(SpoolFile.headLength)))
        #expect(read.messageBytes == message.utf8.count)
    }
}
