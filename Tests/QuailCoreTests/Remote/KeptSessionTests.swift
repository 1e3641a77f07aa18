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

    @Test func aSessionIsQuietUntilTheServerSpeaksOrCloses() throws {
        var ends: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0)
        defer { close(ends[1]) }
        let session = KeptSession(connection: SMTPConnection(adopting: ends[0], timeout: .seconds(1)), host: "mx.d.test",
                                  address: "127.0.0.2", extensions: ["SIZE", "PIPELINING"])
        #expect(session.isQuiet)
        _ = write(ends[1], "421 idle\r\n", 10)
        #expect(!session.isQuiet)
    }
}
