import Testing

@testable import QuailCore

/// A server that answers each command from a script and records what the client sent.
final class ScriptedTransport: SMTPTransport {
    var replies: [ServerReply]
    var sent: [String] = []

    init(_ replies: [(Int, String)]) { self.replies = replies.map { ServerReply(code: $0.0, lines: [$0.1]) } }

    func send(_ bytes: [UInt8]) throws(RemoteConnectionError) { sent.append(String(decoding: bytes, as: UTF8.self)) }

    func readReply() throws(RemoteConnectionError) -> ServerReply {
        guard !replies.isEmpty else { throw .closed }
        return replies.removeFirst()
    }
}

@Suite struct SMTPClientTests {
    func client(_ recipients: [String], sender: String = "a@b.test") -> SMTPClient {
        SMTPClient(me: "quail.test", sender: sender, recipients: recipients, message: Array("hi\n".utf8))
    }

    @Test func aResultPerRecipientAndTheMessageOnce() {
        let server = ScriptedTransport([
            (220, "hi"), (250, "mx\nSIZE"), (250, "sender ok"), (250, "ok"), (451, "later"), (550, "no user"),
            (354, "go"), (250, "queued"), (221, "bye"),
        ])
        server.replies[1] = ServerReply(code: 250, lines: ["mx", "SIZE 1000"])
        let outcome = client(["x@d.test", "y@d.test", "z@d.test"]).run(on: server, host: "mx")
        #expect(outcome == .spoke([.delivered("250 queued"), .deferred("451 later"), .failed("550 no user")]))
        #expect(
            server.sent == [
                "EHLO quail.test\r\n", "MAIL FROM:<a@b.test> SIZE=4\r\n", "RCPT TO:<x@d.test>\r\n",
                "RCPT TO:<y@d.test>\r\n", "RCPT TO:<z@d.test>\r\n", "DATA\r\n", "hi\r\n.\r\n", "QUIT\r\n",
            ])
    }

    @Test func heloWhenEHLOIsUnknownAndTheNullSenderForDoubleBounces() {
        let server = ScriptedTransport([(220, "hi"), (502, "what"), (250, "hello"), (250, "ok"), (250, "ok"), (354, "go"), (250, "done")])
        #expect(client(["x@d.test"], sender: "#@[]").run(on: server, host: "mx") == .spoke([.delivered("250 done")]))
        #expect(server.sent.prefix(3) == ["EHLO quail.test\r\n", "HELO quail.test\r\n", "MAIL FROM:<>\r\n"])
    }

    @Test func aBadGreetingMeansTryTheNextHost() {
        let server = ScriptedTransport([(421, "busy")])
        #expect(client(["x@d.test"]).run(on: server, host: "mx") == .unreachable("greeting: 421 busy"))
        #expect(client(["x@d.test"]).run(on: ScriptedTransport([]), host: "mx") == .unreachable("connection closed by the server"))
    }

    @Test func refusedSenderFailsEveryone() {
        let temporary = ScriptedTransport([(220, "hi"), (250, "mx"), (451, "greylisted")])
        #expect(client(["x@d.test", "y@d.test"]).run(on: temporary, host: "mx") == .spoke([.deferred("451 greylisted"), .deferred("451 greylisted")]))
        let permanent = ScriptedTransport([(220, "hi"), (250, "mx"), (553, "go away")])
        #expect(client(["x@d.test"]).run(on: permanent, host: "mx") == .spoke([.failed("553 go away")]))
    }

    @Test func noDataWhenNobodyWasAccepted() {
        let server = ScriptedTransport([(220, "hi"), (250, "mx"), (250, "ok"), (550, "no"), (221, "bye")])
        #expect(client(["x@d.test"]).run(on: server, host: "mx") == .spoke([.failed("550 no")]))
        #expect(!server.sent.contains("DATA\r\n"))
    }

    @Test func aLostConnectionDefersOnlyTheUnfinished() {
        let server = ScriptedTransport([(220, "hi"), (250, "mx"), (250, "ok"), (550, "no"), (250, "ok"), (354, "go")])
        guard case .spoke(let results) = client(["x@d.test", "y@d.test"]).run(on: server, host: "mx [1.2.3.4]") else {
            Issue.record("expected the host to count as spoken to")
            return
        }
        #expect(results[0] == .failed("550 no"))
        #expect(results[1] == .deferred("connection to mx [1.2.3.4] lost: connection closed by the server (#4.4.2)"))
    }

    @Test func aLineBreakInAnAddressIsNeverSent() {
        let server = ScriptedTransport([(220, "hi"), (250, "mx"), (250, "ok"), (250, "ok"), (354, "go"), (250, "done")])
        let outcome = client(["x@d.test\r\nRCPT TO:<evil@d.test>", "y@d.test"]).run(on: server, host: "mx")
        guard case .spoke(let results) = outcome else { return #expect(Bool(false)) }
        #expect(results[0] == .failed(RemoteReply.unsafeAddress("x@d.test\r\nRCPT TO:<evil@d.test>")))
        #expect(results[1] == .delivered("250 done"))
        #expect(!server.sent.contains { $0.contains("evil") })
    }

    /// Every address goes out as a valid RFC 5321 path, re-quoted where it needs quotes, even when the queue
    /// holds it without them; one of which no path can be made never goes out.
    @Test func addressesGoOutAsValidPaths() {
        let server = ScriptedTransport([(220, "hi"), (250, "mx"), (250, "ok"), (250, "ok"), (250, "ok"), (354, "go"), (250, "done")])
        let sent = SMTPClient(me: "quail.test", sender: "a> RET=FULL ENVID=zz@evil.test",
                              recipients: ["\"c d\"@example.org", "e f@example.org", "x\u{1B}y@example.org"], message: Array("hi\n".utf8))
        guard case .spoke(let results) = sent.run(on: server, host: "mx") else { return #expect(Bool(false)) }
        #expect(results == [.delivered("250 done"), .delivered("250 done"), .failed(RemoteReply.unsafeAddress("x\u{1B}y@example.org"))])
        #expect(server.sent.prefix(4) == [
            "EHLO quail.test\r\n", "MAIL FROM:<\"a> RET=FULL ENVID=zz\"@evil.test>\r\n",
            "RCPT TO:<\"c d\"@example.org>\r\n", "RCPT TO:<\"e f\"@example.org>\r\n",
        ])
        #expect(!server.sent.contains { $0.contains("\u{1B}") })
    }

    func pipelining(_ replies: [(Int, String)]) -> ScriptedTransport {
        let server = ScriptedTransport([(220, "hi"), (250, "mx")] + replies)
        server.replies[1] = ServerReply(code: 250, lines: ["mx", "PIPELINING", "SIZE 1000"])
        return server
    }

    @Test func pipelinedEnvelopeInOneWriteWithAResultPerRecipient() {
        let server = pipelining([(250, "sender ok"), (250, "ok"), (550, "no user"), (451, "later"), (354, "go"), (250, "queued"), (221, "bye")])
        let outcome = client(["x@d.test", "y@d.test", "z@d.test"]).run(on: server, host: "mx")
        #expect(outcome == .spoke([.delivered("250 queued"), .failed("550 no user"), .deferred("451 later")]))
        #expect(
            server.sent == [
                "EHLO quail.test\r\n",
                "MAIL FROM:<a@b.test> SIZE=4\r\nRCPT TO:<x@d.test>\r\nRCPT TO:<y@d.test>\r\nRCPT TO:<z@d.test>\r\nDATA\r\n",
                "hi\r\n.\r\n", "QUIT\r\n",
            ])
    }

    /// Every reply of the batch is read before anything else is said, whatever MAIL's fate.
    @Test func pipelinedRefusedSenderFailsEveryoneAndNoContentIsSent() {
        let server = pipelining([(451, "greylisted"), (503, "no sender"), (503, "no sender"), (503, "no recipients"), (221, "bye")])
        #expect(client(["x@d.test", "y@d.test"]).run(on: server, host: "mx") == .spoke([.deferred("451 greylisted"), .deferred("451 greylisted")]))
        #expect(server.sent.last == "QUIT\r\n" && server.sent.count == 3 && server.replies.isEmpty)
    }

    /// RFC 2920 §3.1: a DATA answered 354 although every RCPT was refused is ended with a lone dot, never the message.
    @Test func pipelinedDataAcceptedWithNobodyAcceptedGetsALoneDot() {
        let server = pipelining([(250, "ok"), (550, "no"), (354, "go"), (554, "no valid recipients"), (221, "bye")])
        #expect(client(["x@d.test"]).run(on: server, host: "mx") == .spoke([.failed("550 no")]))
        #expect(server.sent.suffix(2) == [".\r\n", "QUIT\r\n"] && !server.sent.contains("hi\r\n.\r\n"))
        let refusedData = pipelining([(250, "ok"), (550, "no"), (503, "no recipients"), (221, "bye")])
        #expect(client(["x@d.test"]).run(on: refusedData, host: "mx") == .spoke([.failed("550 no")]))
        #expect(!refusedData.sent.contains(".\r\n") && refusedData.replies.isEmpty)
    }

    @Test func pipelinedConnectionLostLeavesOnlyTheUnfinishedDeferred() {
        let server = pipelining([(250, "ok"), (550, "no")])
        guard case .spoke(let results) = client(["x@d.test", "y@d.test"]).run(on: server, host: "mx") else {
            return #expect(Bool(false))
        }
        #expect(results[0] == .failed("550 no"))
        #expect(results[1] == .deferred("connection to mx lost: connection closed by the server (#4.4.2)"))
    }

    /// A kept session whose last transaction ended before DATA (every RCPT refused) still holds that sender: the next
    /// transaction starts with RSET (pipelined ahead of MAIL when offered), or a strict server answers its MAIL
    /// with 503 nested MAIL.
    @Test(arguments: [false, true])
    func aReusedSessionIsResetBeforeItsNextTransaction(pipelined: Bool) {
        let server = pipelined
            ? pipelining([(250, "ok"), (550, "no"), (503, "no valid recipients")])
            : ScriptedTransport([(220, "hi"), (250, "mx"), (250, "ok"), (550, "no")])
        let (outcome, extensions) = client(["gone@d.test"]).runKeeping(on: server, host: "mx")
        #expect(outcome == .spoke([.failed("550 no")]))
        server.sent = []
        server.replies = [(250, "reset"), (250, "ok"), (250, "ok"), (354, "go"), (250, "queued")].map { ServerReply(code: $0.0, lines: [$0.1]) }
        let again = client(["x@d.test"]).reuse(server, extensions: extensions ?? [], host: "mx")
        #expect(again?.results == [.delivered("250 queued")])
        #expect(again?.extensions != nil)
        let expected = pipelined
            ? ["RSET\r\nMAIL FROM:<a@b.test> SIZE=4\r\nRCPT TO:<x@d.test>\r\nDATA\r\n", "hi\r\n.\r\n"]
            : ["RSET\r\n", "MAIL FROM:<a@b.test>\r\n", "RCPT TO:<x@d.test>\r\n", "DATA\r\n", "hi\r\n.\r\n"]
        #expect(server.sent == expected)
    }

    /// Replies on a reused session that show it out of step with us.
    struct OutOfStep: Sendable, CustomTestStringConvertible {
        var name: String
        var pipelined: Bool
        /// The reply codes from RSET on.
        var codes: [Int]
        var testDescription: String { name }
    }

    /// Such a reply says nothing about the message and nothing was delivered: `reuse` gives the session up (nil)
    /// and the caller takes a fresh connection; never a permanent failure, and never the content.
    @Test(arguments: [
        OutOfStep(name: "RSET refused", pipelined: false, codes: [500]),
        OutOfStep(name: "nested MAIL", pipelined: false, codes: [250, 503]),
        OutOfStep(name: "MAIL refused", pipelined: false, codes: [250, 550]),
        OutOfStep(name: "MAIL deferred", pipelined: false, codes: [250, 451]),
        OutOfStep(name: "RCPT 503", pipelined: false, codes: [250, 250, 503]),
        OutOfStep(name: "DATA 503", pipelined: false, codes: [250, 250, 250, 503]),
        OutOfStep(name: "pipelined RSET refused", pipelined: true, codes: [502, 250, 250, 354]),
        OutOfStep(name: "pipelined nested MAIL", pipelined: true, codes: [250, 503, 503, 503]),
        OutOfStep(name: "pipelined RCPT 503", pipelined: true, codes: [250, 250, 503, 503]),
        OutOfStep(name: "pipelined DATA 503", pipelined: true, codes: [250, 250, 250, 503]),
    ])
    func aReplyOutOfStepOnAReusedSessionMeansAFreshConnection(_ script: OutOfStep) {
        let server = ScriptedTransport(script.codes.map { ($0, "x") })
        let extensions: Set<String> = script.pipelined ? ["PIPELINING"] : []
        #expect(client(["x@d.test"]).reuse(server, extensions: extensions, host: "mx") == nil)
        #expect(!server.sent.contains("hi\r\n.\r\n") && !server.sent.contains("QUIT\r\n"))
    }

    /// A server that offers STARTTLS and then refuses it (454): at `may` the message goes on in cleartext on the
    /// same session; at `encrypt` the host is unreachable for this delivery (the next MX is tried), with QUIT.
    @Test func aRefusedSTARTTLSGoesOnInCleartextOnlyAtMay() throws {
        let context = try TLSContext.client()
        func script() -> ScriptedTransport {
            let server = ScriptedTransport([
                (220, "hi"), (250, "mx"), (454, "4.7.0 TLS not available"), (250, "ok"), (250, "ok"), (354, "go"),
                (250, "queued"), (221, "bye"),
            ])
            server.replies[1] = ServerReply(code: 250, lines: ["mx", "STARTTLS"])
            return server
        }
        var may = client(["x@d.test"])
        may.tls = TLSPolicy(level: .may, context: context, serverName: "mx.d.test")
        let cleartext = script()
        #expect(may.run(on: cleartext, host: "mx") == .spoke([.delivered("250 queued")]))
        #expect(cleartext.sent.prefix(3) == ["EHLO quail.test\r\n", "STARTTLS\r\n", "MAIL FROM:<a@b.test>\r\n"])

        var encrypt = client(["x@d.test"])
        encrypt.tls = TLSPolicy(level: .encrypt, context: context, serverName: "mx.d.test")
        let refused = script()
        guard case .unreachable(let reason) = encrypt.run(on: refused, host: "mx") else { return #expect(Bool(false)) }
        #expect(reason.contains("refused STARTTLS") && reason.contains("454"), "\(reason)")
        #expect(refused.sent.last == "QUIT\r\n" && !refused.sent.contains { $0.hasPrefix("MAIL") })
    }
}
