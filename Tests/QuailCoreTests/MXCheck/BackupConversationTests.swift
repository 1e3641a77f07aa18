import Testing

@testable import QuailCore

extension MXCheckLibrary {
    @Suite struct BackupConversationTests {
        let conversation = BackupConversation(
            me: "checker.test", probes: BackupProbe.all(domain: "partner.test", unknownUser: "mxcheck-0123"))

        @Test func oneMailOneRcptPerProbeThenRsetAndQuitNeverData() {
            let server = ScriptedTransport(
                [(220, "backup.partner.test ESMTP"), (250, "hi"), (250, "sender ok")]
                    + Array(repeating: (553, "no"), count: 7)
                    + [(250, "reset"), (221, "bye")])
            let transcript = conversation.run(on: server)
            #expect(transcript.failure == nil)
            #expect(transcript.replies.count == 7)
            #expect(server.sent.first == "EHLO checker.test\r\n")
            #expect(server.sent[1] == "MAIL FROM:<postmaster@checker.test>\r\n")
            #expect(server.sent[2] == "RCPT TO:<postmaster@partner.test>\r\n")
            #expect(server.sent[6] == "RCPT TO:<@partner.test:mxcheck@example.com>\r\n")
            #expect(server.sent.suffix(2) == ["RSET\r\n", "QUIT\r\n"])
            #expect(!server.sent.contains { $0.uppercased().hasPrefix("DATA") })
        }

        @Test func heloWhenEhloIsUnknown() {
            let server = ScriptedTransport(
                [(220, "old"), (500, "what?"), (250, "hi"), (250, "ok")] + Array(repeating: (250, "ok"), count: 7)
                    + [(250, "reset"), (221, "bye")])
            #expect(conversation.run(on: server).replies.count == 7)
            #expect(server.sent[1] == "HELO checker.test\r\n")
        }

        @Test func aRefusedSenderStopsBeforeAnyRecipient() {
            let server = ScriptedTransport([(220, "hi"), (250, "hi"), (553, "5.7.1 bad sender"), (221, "bye")])
            let transcript = conversation.run(on: server)
            #expect(
                transcript == .init(replies: [], failure: "MAIL FROM:<postmaster@checker.test>: 553 5.7.1 bad sender"))
            #expect(server.sent.last == "QUIT\r\n")
        }

        @Test func aLostConnectionKeepsTheRepliesSoFar() {
            let server = ScriptedTransport([(220, "hi"), (250, "hi"), (250, "ok"), (250, "ok"), (550, "no")])
            let transcript = conversation.run(on: server)
            #expect(transcript.replies.map(\.code) == [250, 550])
            #expect(transcript.failure == "connection lost: connection closed by the server")
        }

        @Test func aRefusingGreetingIsAFailure() {
            let server = ScriptedTransport([(554, "go away"), (221, "bye")])
            #expect(conversation.run(on: server) == .init(replies: [], failure: "greeting: 554 go away"))
        }
    }
}
