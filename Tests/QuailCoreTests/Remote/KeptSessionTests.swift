import Glibc
import Testing

@testable import QuailCore

/// A session kept open between deliveries (Postfix's connection cache): no QUIT while it may carry another
/// message, none of EHLO's work again when it does, and a fresh connection when the kept one is gone.
@Suite struct KeptSessionTests {
    func client(_ recipients: [String]) -> SMTPClient {
        SMTPClient(me: "quail.test", sender: "a@b.test", recipients: recipients, message: Array("hi\n".utf8))
    }

    @Test func aCleanTransactionLeavesTheSessionOpenAndTheNextOneStartsAtRSET() {
        let server = ScriptedTransport([
            (220, "hi"), (250, "mx"), (250, "ok"), (250, "ok"), (354, "go"), (250, "first"),
            (250, "reset"), (250, "ok"), (250, "ok"), (354, "go"), (250, "second"),
        ])
        server.replies[1] = ServerReply(code: 250, lines: ["mx", "PIPELINING"])
        let (outcome, extensions) = client(["x@d.test"]).runKeeping(on: server, host: "mx")
        #expect(outcome == .spoke([.delivered("250 first")]))
        #expect(extensions == ["PIPELINING"])
        #expect(!server.sent.contains("QUIT\r\n"))
        server.sent = []
        let again = client(["y@d.test"]).reuse(server, extensions: extensions!, host: "mx")
        #expect(again?.results == [.delivered("250 second")])
        #expect(again?.extensions == ["PIPELINING"])
        #expect(server.sent == ["RSET\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<y@d.test>\r\nDATA\r\n", "hi\r\n.\r\n"])
    }

    @Test func aRefusedTransactionStillLeavesAReusableSession() {
        let server = ScriptedTransport([(250, "reset"), (250, "ok"), (550, "no such user")])
        let reused = client(["x@d.test"]).reuse(server, extensions: [], host: "mx")
        #expect(reused?.results == [.failed("550 no such user")])
        #expect(reused?.extensions == [])
    }

    @Test func aSessionTheServerClosedWhileIdleDeliveredNothingAndIsNotReused() {
        // No reply at all: nothing was accepted, so the caller may try a fresh connection.
        #expect(client(["x@d.test"]).reuse(ScriptedTransport([]), extensions: [], host: "mx") == nil)
    }

    @Test func aSessionThatBrokeBeforeTheContentDeliveredNothingAndIsNotReused() {
        let server = ScriptedTransport([(250, "reset"), (250, "ok"), (250, "ok")])
        #expect(client(["x@d.test"]).reuse(server, extensions: [], host: "mx") == nil)
    }

    @Test func aSessionThatBrokeAfterTheContentHasItsOutcome() {
        let server = ScriptedTransport([(250, "reset"), (250, "ok"), (250, "ok"), (354, "go")])
        let reused = client(["x@d.test"]).reuse(server, extensions: [], host: "mx")
        #expect(reused?.extensions == nil)
        guard case .deferred = reused?.results.first else { return #expect(Bool(false)) }
    }

    @Test func a421EndsTheSessionWithQuit() {
        let server = ScriptedTransport([(220, "hi"), (250, "mx"), (421, "closing"), (221, "bye")])
        let (outcome, extensions) = client(["x@d.test"]).runKeeping(on: server, host: "mx")
        #expect(outcome == .spoke([.deferred("421 closing")]))
        #expect(extensions == nil)
        #expect(server.sent.last == "QUIT\r\n")
    }

    @Test func theHandoverTextRoundTrips() throws {
        var ends: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0)
        defer { close(ends[1]) }
        let session = KeptSession(connection: SMTPConnection(adopting: ends[0], timeout: .seconds(1)), host: "mx.d.test",
                                  address: "127.0.0.2", extensions: ["SIZE", "PIPELINING"])
        #expect(session.handoverText == "mx.d.test 127.0.0.2 PIPELINING SIZE")
        #expect(KeptSession.handoverText(ofLine: "C" + session.handoverText) == session.handoverText)
        #expect(KeptSession.handoverText(ofLine: "Hup mx.d.test 127.0.0.2") == nil)
        #expect(session.isQuiet)
        _ = write(ends[1], "421 idle\r\n", 10)
        #expect(!session.isQuiet)
    }

    @Test func aSessionIsHandedOverWithItsLine() throws {
        var ends: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0)
        defer { close(ends[0]); close(ends[1]) }
        var server: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &server) == 0)
        defer { close(server[1]) }
        let session = KeptSession(connection: SMTPConnection(adopting: server[0], timeout: .seconds(1)), host: "mx",
                                  address: "127.0.0.2", extensions: [])
        #expect(session.handBack(over: ends[0]))
        var buffer = [UInt8](repeating: 0, count: 100)
        let received = buffer.withUnsafeMutableBytes { bytes in try? DescriptorPassing.read(ends[1], into: bytes) }
        let (count, fd) = try #require(received)
        #expect(String(decoding: buffer[..<count], as: UTF8.self) == "Cmx 127.0.0.2\n")
        #expect(fd != nil)
        if let fd { close(fd) }
        // Not a socket: nothing to hand back to, so the caller ends the session itself.
        let pipeEnds = try FileIO.makePipe()
        defer { close(pipeEnds.read); close(pipeEnds.write) }
        #expect(!session.handBack(over: pipeEnds.write))
    }
}
