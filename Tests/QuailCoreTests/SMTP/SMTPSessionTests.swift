import Foundation
import Testing

@testable import QuailCore

@Suite struct SMTPSessionTests {
    func config(_ files: [String: String] = [:]) throws -> Configuration {
        let path = try makeScratchDirectory()
        mkdir(path + "/control", 0o700)
        writeFile(path + "/control/me", "backup.test\n")
        writeFile(path + "/control/rcpthosts", "partner.test\n.sub.partner.test\n")
        for (name, text) in files { writeFile(path + "/control/" + name, text) }
        return try Configuration(home: QuailHome(path: path))
    }

    func session(_ files: [String: String] = [:], relayClient: Bool = false) throws -> SMTPSession {
        var session = SMTPSession(config: try config(files), relayClient: relayClient)
        _ = session.handle(.hello(extended: true, name: "client.test"))
        _ = session.handle(SMTPCommand(line: "MAIL FROM:<sender@example.org>"))
        return session
    }

    func code(_ action: SMTPSession.Action) -> String {
        switch action {
        case .reply(let reply), .close(let reply): "\(reply.code) \(reply.enhanced)"
        case .receiveData: "data"
        case .etrn(let domain): "etrn \(domain)"
        case .startTLS: "starttls"
        }
    }

    static let recipients: [(String, String)] = [
        ("<user@partner.test>", "250 2.1.5"),
        ("<user@PARTNER.TEST>", "250 2.1.5"),
        ("<user@partner.test.>", "250 2.1.5"),
        ("<user@other.test>", "553 5.7.1"),
        ("<user@other.test.>", "553 5.7.1"),
        ("<user@a.sub.partner.test>", "250 2.1.5"),
        ("<user@sub.partner.test>", "553 5.7.1"),
        ("<user@evilpartner.test>", "553 5.7.1"),
        ("<user%other.test@partner.test>", "553 5.7.1"),
        ("<other.test!user@partner.test>", "553 5.7.1"),
        ("<\"user@other.test\"@partner.test>", "553 5.7.1"),
        ("<\"user\"@partner.test>", "250 2.1.5"),
        ("<\"user\\@other.test\"@partner.test>", "553 5.7.1"),
        ("<\"user%other.test\"@partner.test>", "553 5.7.1"),
        ("<\"c d\"@partner.test>", "250 2.1.5"),
        // A control character in an address is a syntax error, quoted or not.
        ("<us\u{1B}er@partner.test>", "501 5.5.4"),
        ("<\"us\u{1B}er\"@partner.test>", "501 5.5.4"),
        ("<us\u{85}er@partner.test>", "501 5.5.4"),
        // A quoted local part with no domain after it is no mailbox (DESIGN.md), whatever the quotes hold.
        ("<\"user@partner.test\">", "501 5.5.4"),
        ("<\"user@partner.test\"", "501 5.5.4"),
        ("<\"user\">", "501 5.5.4"),
        ("<@partner.test:user@other.test>", "553 5.7.1"),
        ("<@other.test:user@partner.test>", "250 2.1.5"),
        ("<user@[127.0.0.1]>", "553 5.7.1"),
        ("<user>", "501 5.5.4"),
        ("<>", "501 5.5.4"),
        ("<user@partner.test> NOTIFY=NEVER", "555 5.5.4"),
    ]

    @Test(arguments: recipients)
    func recipientPolicy(argument: String, expected: String) throws {
        var session = try session()
        #expect(code(session.handle(.recipient(argument: argument))) == expected)
    }

    @Test func relayClientMayRelayAnywhere() throws {
        var session = try session(relayClient: true)
        #expect(code(session.handle(.recipient(argument: "<user@other.test>"))) == "250 2.1.5")
    }

    @Test func validRcptToAndPostmaster() throws {
        var session = try session(["validrcptto": "alice@partner.test\n"])
        #expect(code(session.handle(.recipient(argument: "<ALICE@partner.test>"))) == "250 2.1.5")
        #expect(code(session.handle(.recipient(argument: "<bob@partner.test>"))) == "550 5.1.1")
        #expect(code(session.handle(.recipient(argument: "<postmaster@partner.test>"))) == "250 2.1.5")
    }

    @Test func badMailFromIsRefusedAtRcpt() throws {
        var config = SMTPSession(config: try config(["badmailfrom": "@Spam.example\nexact@bad.test\n"]), relayClient: false)
        _ = config.handle(.hello(extended: false, name: "x"))
        #expect(code(config.handle(SMTPCommand(line: "MAIL FROM:<Someone@SPAM.example>"))) == "250 2.1.0")
        #expect(code(config.handle(.recipient(argument: "<user@partner.test>"))) == "553 5.7.1")
    }

    @Test func quotedLocalPartWithoutDomainIsRefusedAtMail() throws {
        var session = SMTPSession(config: try config(), relayClient: false)
        _ = session.handle(.hello(extended: true, name: "x"))
        #expect(code(session.handle(SMTPCommand(line: "MAIL FROM:<\"user@partner.test\">"))) == "501 5.5.4")
        #expect(code(session.handle(SMTPCommand(line: "MAIL FROM:<\"john doe\"@client.test>"))) == "250 2.1.0")
    }

    /// The envelope keeps a quoted local part quoted: what the quotes hold is one mailbox, never parameters.
    @Test func quotedLocalPartsReachTheEnvelopeQuoted() throws {
        var session = SMTPSession(config: try config(), relayClient: false)
        _ = session.handle(.hello(extended: true, name: "x"))
        #expect(code(session.handle(SMTPCommand(line: "MAIL FROM:<\"a> RET=FULL ENVID=zz\"@evil.test>"))) == "250 2.1.0")
        #expect(code(session.handle(.recipient(argument: "<\"c d\"@partner.test>"))) == "250 2.1.5")
        #expect(session.handle(.data) == .receiveData(sender: "\"a> RET=FULL ENVID=zz\"@evil.test", recipients: ["\"c d\"@partner.test"]))
        #expect(code(session.handle(SMTPCommand(line: "MAIL FROM:<a\u{1B}b@evil.test>"))) == "501 5.5.4")
    }

    @Test func sizeAtMail() throws {
        var session = SMTPSession(config: try config(["databytes": "1000\n"]), relayClient: false)
        _ = session.handle(.hello(extended: true, name: "x"))
        #expect(code(session.handle(SMTPCommand(line: "MAIL FROM:<a@b.test> SIZE=1001"))) == "552 5.3.4")
        #expect(code(session.handle(SMTPCommand(line: "MAIL FROM:<a@b.test> SIZE=1000 BODY=8BITMIME"))) == "250 2.1.0")
    }

    @Test func recipientLimit() throws {
        var session = try session()
        for number in 0..<SMTPSession.maximumRecipients {
            #expect(code(session.handle(.recipient(argument: "<u\(number)@partner.test>"))) == "250 2.1.5")
        }
        #expect(code(session.handle(.recipient(argument: "<one.too.many@partner.test>"))) == "452 4.5.3")
        #expect(code(session.handle(.data)) == "data")
    }

    @Test func commandOrder() throws {
        var session = SMTPSession(config: try config(), relayClient: false)
        #expect(code(session.handle(SMTPCommand(line: "MAIL FROM:<a@b.test>"))) == "503 5.5.1")
        _ = session.handle(SMTPCommand(line: "HELO client"))
        #expect(code(session.handle(.data)) == "503 5.5.1")
        #expect(code(session.handle(.recipient(argument: "<user@partner.test>"))) == "503 5.5.1")
        #expect(code(session.handle(SMTPCommand(line: "MAIL FROM:<a@b.test>"))) == "250 2.1.0")
        #expect(code(session.handle(SMTPCommand(line: "MAIL FROM:<a@b.test>"))) == "503 5.5.1")
        #expect(code(session.handle(.data)) == "503 5.5.1")
        #expect(code(session.handle(.reset)) == "250 2.0.0")
        #expect(code(session.handle(.recipient(argument: "<user@partner.test>"))) == "503 5.5.1")
    }

    @Test func commandsParse() {
        #expect(SMTPCommand(line: "ehlo client.test") == .hello(extended: true, name: "client.test"))
        #expect(SMTPCommand(line: "HELO") == .malformed)
        #expect(SMTPCommand(line: "mail from: <a@b>") == .mail(argument: "<a@b>"))
        #expect(SMTPCommand(line: "RCPT <a@b>") == .malformed)
        #expect(SMTPCommand(line: "GET / HTTP/1.0") == .unknown("GET"))
        #expect(SMTPCommand(line: "DATA now") == .malformed)
    }

    @Test func etrnOnlyForOurDomains() throws {
        var session = SMTPSession(config: try config(), relayClient: false)
        _ = session.handle(.hello(extended: true, name: "x"))
        #expect(code(session.handle(.etrn("partner.test"))) == "etrn partner.test")
        #expect(code(session.handle(.etrn("@Partner.Test"))) == "etrn partner.test")
        #expect(code(session.handle(.etrn("other.test"))) == "459 4.7.1")
        #expect(code(session.handle(.etrn("#queue"))) == "459 4.7.1")
    }

    @Test func tooManyBadCommandsClose() throws {
        var session = SMTPSession(config: try config(), relayClient: false)
        var last = ""
        for _ in 0...SMTPSession.maximumBadCommands { last = code(session.handle(.unknown("GET"))) }
        #expect(last == "421 4.7.0")
    }

    /// Lines no command may hold are commands of their own: answered 500 5.5.2 by the session and counted
    /// toward its limit like any other bad command.
    @Test(arguments: [SMTPCommand.tooLong, .nulByte, .eightBit])
    func malformedLinesCountTowardTheLimit(_ command: SMTPCommand) throws {
        var session = SMTPSession(config: try config(), relayClient: false)
        for _ in 0..<SMTPSession.maximumBadCommands { #expect(code(session.handle(command)) == "500 5.5.2") }
        #expect(session.badCommands == SMTPSession.maximumBadCommands)
        #expect(session.handle(command) == .close(.tooManyErrors))
    }

    @Test func wireBytesParse() {
        #expect(SMTPCommand(bytes: Array("NOOP".utf8)) == .noop)
        #expect(SMTPCommand(bytes: Array("NO".utf8) + [0] + Array("OP".utf8)) == .nulByte)
        #expect(SMTPCommand(bytes: Array("MAIL FROM:<j".utf8) + [0xC3, 0xBC] + Array("rgen@x.test>".utf8)) == .eightBit)
    }

    @Test func replyWireFormat() {
        #expect(SMTPReply(250, "", lines: ["a", "b"]).wire == "250-a\r\n250 b\r\n")
        #expect(SMTPReply.queueFailed(exitCode: 53).wire == "451 4.3.0 qq write error or disk full (#4.3.0)\r\n")
        #expect(SMTPReply.queueFailed(exitCode: 31).code == 554)
    }
}

@Suite struct SMTPSessionEdgeTests {
    @Test func postmasterWithoutDomainAndEmptyLabels() throws {
        let path = try makeScratchDirectory()
        mkdir(path + "/control", 0o700)
        writeFile(path + "/control/me", "backup.test\n")
        writeFile(path + "/control/rcpthosts", "partner.test\n")
        var session = SMTPSession(config: try Configuration(home: QuailHome(path: path)), relayClient: false)
        _ = session.handle(.hello(extended: true, name: "x"))
        _ = session.handle(SMTPCommand(line: "MAIL FROM:<a@b.test>"))
        #expect(session.handle(.recipient(argument: "<Postmaster>")) == .reply(.recipientOK))
        #expect(session.handle(.recipient(argument: "<user@partner.test..>")) == .reply(.syntaxError))
        #expect(session.handle(.recipient(argument: "<user@.partner.test>")) == .reply(.syntaxError))
        guard case .receiveData(_, let recipients) = session.handle(.data) else { Issue.record("no data"); return }
        #expect(recipients == ["postmaster@backup.test"])
    }
}
