import Foundation
import Glibc
import QuailCore
import Testing

/// The variants of SMTP smuggling: an end of DATA that some server might take for CRLF . CRLF.
enum SmugglingEnding: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case lfDotLF = "\n.\n"
    case crDotCR = "\r.\r"
    case lfDotCRLF = "\n.\r\n"
    case crDotCRLF = "\r.\r\n"
    case crlfDotLF = "\r\n.\n"
    var testDescription: String { rawValue.debugDescription }
}

/// Input a hostile or broken client sends: smuggling, bare CR/LF, NUL, 8-bit bytes, huge lines, huge sessions,
/// HTTP. Each gets its RFC reply or a close, and nothing is queued by mistake.
struct SMTPHostileTests {
    /// A session up to the 354 of DATA.
    func openData(_ server: SMTPDaemon, recipient: String = "user@partner.test") throws -> SMTPClient {
        let client = try server.connect()
        try client.hello()
        try client.command("MAIL FROM:<first@client.test>", 250, "2.1.0")
        try client.command("RCPT TO:<\(recipient)>", 250, "2.1.5")
        try client.command("DATA", 354)
        return client
    }

    @Test(arguments: SmugglingEnding.allCases, SMTPMode.allCases)
    func smugglingNeverYieldsTwoMessages(ending: SmugglingEnding, mode: SMTPMode) throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home, mode: mode)
        let client = try openData(server)
        // All in one write, as the attack sends it: a fake end of DATA, then a whole second transaction.
        client.send("Subject: first\r\n\r\nhello" + ending.rawValue
            + "MAIL FROM:<smuggler@evil.test>\r\nRCPT TO:<victim@partner.test>\r\nDATA\r\n"
            + "Subject: SMUGGLED-MARKER\r\n\r\nevil\r\n.\r\nQUIT\r\n")
        let replies = client.drainReplies(quiet: 3)
        // Whatever happened, never two messages, and never the smuggled one as a message of its own.
        #expect(home.todoCount() <= 1)
        for message in home.queuedMessages() {
            #expect(message.recipients == ["user@partner.test"], "\(message.text)")
            #expect(message.sender == "first@client.test")
            #expect(!message.originalText.hasPrefix("Subject: SMUGGLED-MARKER"))
        }
        // DESIGN.md: a bare CR or LF in DATA is 550 5.5.2 and the end of the session, nothing queued.
        #expect(replies.first?.code == 550 && replies.first?.enhanced == "5.5.2", "\(replies)")
        #expect(replies.count == 1, "nothing after the 550: \(replies)")
        #expect(client.waitForClose(5) != nil, "the session is closed")
        #expect(home.todoCount() == 0)
    }

    @Test func smugglingSplitOverManyWritesToo() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        for ending in SmugglingEnding.allCases {
            let client = try openData(server)
            for piece in ["Subject: first\r\n\r\nhello", ending.rawValue, "MAIL FROM:<smuggler@evil.test>\r\n",
                          "RCPT TO:<victim@partner.test>\r\n", "DATA\r\n", "Subject: SMUGGLED-MARKER\r\n\r\nevil\r\n.\r\n"] {
                client.send(piece)
                usleep(50_000)
            }
            let replies = client.drainReplies(quiet: 2)
            #expect(replies.first?.code == 550 && replies.first?.enhanced == "5.5.2", "\(ending): \(replies)")
            #expect(client.waitForClose(5) != nil)
        }
        #expect(home.todoCount() == 0)
    }

    @Test(arguments: ["NOOP\n", "NOOP\r", "NOOP\rMAIL FROM:<a@b.test>\r\n", "EHLO a\nMAIL FROM:<a@b.test>\r\n", "\n"])
    func bareLineEndsInCommandsClose(input: String) throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.hello()
        client.send(input)
        if input.hasSuffix("\r") { client.send("\r\n") }  // a lone CR at the end is only bare once the next byte is not LF
        let reply = try client.reply()
        #expect(reply.code == 550 && reply.enhanced == "5.5.2", "\(input.debugDescription): \(reply)")
        #expect(client.waitForClose(5) != nil, "closed after the 550")
        #expect(home.todoCount() == 0)
    }

    @Test func bareLFInsideAMessageBodyRefusesTheMessage() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        for body in ["Subject: x\r\n\r\nline one\nline two\r\n.\r\n", "Subject: x\r\n\r\nline one\rline two\r\n.\r\n",
                     "Subject: x\nTo: y\r\n\r\nz\r\n.\r\n"] {
            let client = try openData(server)
            client.send(body)
            let replies = client.drainReplies(quiet: 2)
            #expect(replies.first?.code == 550 && replies.first?.enhanced == "5.5.2", "\(body.debugDescription): \(replies)")
            #expect(client.waitForClose(5) != nil)
        }
        #expect(home.todoCount() == 0)
    }

    @Test func nulBytes() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        // In commands: refused (or the session closed), never taken as the part before the NUL.
        /// A 5xx reply or a close; never silence, never a 2xx.
        func refusedOrClosed(_ client: SMTPClient, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                let reply = try client.reply()
                #expect(reply.code / 100 == 5, "\(what.debugDescription): \(reply)", sourceLocation: sourceLocation)
            } catch SMTPClientError.closed {
            } catch {
                Issue.record("\(what.debugDescription): neither a reply nor a close: \(error)", sourceLocation: sourceLocation)
            }
        }
        for command in ["HELO a\u{0}b.test", "MAIL FROM:<a\u{0}@client.test>", "NO\u{0}OP", "\u{0}\u{0}\u{0}"] {
            let client = try server.connect()
            try client.hello()
            client.send(command + "\r\n")
            refusedOrClosed(client, command)
        }
        let client = try server.connect()
        try client.hello()
        try client.command("MAIL FROM:<s@client.test>", 250, "2.1.0")
        client.send("RCPT TO:<us\u{0}er@partner.test>\r\n")
        refusedOrClosed(client, "RCPT with a NUL")
        #expect(home.todoCount() == 0)
        // In DATA: refused after the end of DATA, nothing queued, and the session goes on (DESIGN.md).
        let data = try openData(server)
        data.send("Subject: nul\r\n\r\nbefore\u{0}after\r\nlast\r\n.\r\n")
        try data.expect(554, "5.6.0")
        try data.command("NOOP", 250, "2.0.0")
        #expect(home.todoCount() == 0)
    }

    @Test func eightBitBytesInCommands() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.hello()
        // No SMTPUTF8 is advertised: an 8-bit address is not an address.
        client.send(Array("MAIL FROM:<j".utf8) + [0xFC] + Array("rgen@client.test>\r\n".utf8))
        #expect(try client.reply().code / 100 == 5)
        try client.command("MAIL FROM:<s@client.test>", 250, "2.1.0")
        client.send(Array("RCPT TO:<".utf8) + [0xC3, 0xA9, 0xFF, 0x80] + Array("@partner.test>\r\n".utf8))
        #expect(try client.reply().code / 100 == 5)
        client.send(Array("RCPT TO:<user@partner.test".utf8) + [0xFF] + Array(">\r\n".utf8))
        #expect(try client.reply().code / 100 == 5)
        client.send([0xFF, 0xFE, 0x80, 0x0D, 0x0A])
        #expect(try client.reply().code / 100 == 5)
        // The session is still sound.
        try client.command("NOOP", 250, "2.0.0")
        try client.command("QUIT", 221, "2.0.0")
        #expect(home.todoCount() == 0)
    }

    @Test func hundredKilobyteCommandLineGetsOne500AndTheSessionGoesOn() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.hello()
        client.send("NOOP " + String(repeating: "a", count: 100_000) + "\r\nNOOP\r\n")
        try client.expect(500, "5.5.2")
        try client.expect(250, "2.0.0")  // exactly one reply for the long line, then the NOOP's
        // 512 octets with CRLF is the limit: fine; 513 is not.
        let address = "<u@partner.test>"
        let padding = 512 - "RCPT TO:\(address)\r\n".utf8.count
        try client.command("MAIL FROM:<s@client.test>", 250, "2.1.0")
        try client.command("RCPT TO:" + address + String(repeating: " ", count: padding), 250, "2.1.5")
        try client.command("RCPT TO:" + address + String(repeating: " ", count: padding + 1), 500, "5.5.2")
        // A long MAIL line does not leave a half-parsed command behind.
        client.send("MAIL FROM:<" + String(repeating: "x", count: 5000) + "@client.test>\r\nDATA\r\n")
        try client.expect(500, "5.5.2")
        try client.expect(354)
        client.send("Subject: after long lines\r\n\r\nok\r\n.\r\n")
        try client.expect(250, "2.0.0")
        try client.command("QUIT", 221, "2.0.0")
        #expect(home.todoCount() == 1)
        #expect(home.queuedMessages().first?.recipients == ["u@partner.test"])
    }

    @Test func endlessLineWithoutCRLFKeepsMemoryBounded() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.hello()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
        var peak = 0
        for _ in 0..<32 {
            if !client.send(chunk) { break }  // the server may close: that is fine
            for pid in server.sessionProcesses() { peak = max(peak, procStatusKB(pid, "VmHWM") ?? 0) }
        }
        #expect(peak < 64 * 1024, "a session's peak RSS reached \(peak) kB")
        print("32 MB line without CRLF: session peak RSS \(peak) kB")
        #expect(home.todoCount() == 0)
    }

    @Test func tenThousandRecipientsInOneSession() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect(timeout: 30)
        try client.hello()
        try client.command("MAIL FROM:<s@client.test>", 250, "2.1.0")
        var codes: [Int] = []
        var peak = 0
        var closed = false
        // Pipelined in batches of 500: the client never waits for a reply per command.
        batches: for batch in 0..<20 {
            client.send((0..<500).map { "RCPT TO:<user\(batch * 500 + $0)@partner.test>\r\n" }.joined())
            for pid in server.sessionProcesses() { peak = max(peak, procStatusKB(pid, "VmHWM") ?? 0) }
            for _ in 0..<500 {
                guard let reply = try? client.reply() else { closed = true; break batches }
                codes.append(reply.code)
                if reply.code == 421 { closed = true; break batches }
            }
            for pid in server.sessionProcesses() { peak = max(peak, procStatusKB(pid, "VmHWM") ?? 0) }
        }
        #expect(codes.prefix(100).allSatisfy { $0 == 250 } && codes.count >= 101, "\(codes.prefix(110))")
        #expect(codes.dropFirst(100).allSatisfy { $0 == 452 || $0 == 421 }, "past the limit: \(Set(codes.dropFirst(100)))")
        #expect(peak > 0 && peak < 64 * 1024, "a session's peak RSS: \(peak) kB")
        print("10 000 RCPTs: \(codes.count) replies (\(codes.filter { $0 == 250 }.count) × 250, \(codes.filter { $0 == 452 }.count) × 452), closed: \(closed), session peak RSS \(peak) kB")
        if closed {
            // Too many errors ended it with 421: allowed, but then nothing is queued.
            #expect(codes.last == 421 || client.waitForClose(5) != nil)
            #expect(home.todoCount() == 0)
        } else {
            #expect(codes.count == 10_000)
            try client.command("DATA", 354)
            client.send("Subject: ten thousand\r\n\r\nx\r\n.\r\n")
            try client.expect(250, "2.0.0")
            #expect(home.queuedMessages().first?.recipients.count == 100)
        }
    }

    @Test func tenThousandAcceptedRecipientsAcrossTransactionsKeepMemoryBounded() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect(timeout: 30)
        try client.hello()
        var peak = 0
        var wrong: [String] = []
        // 100 transactions of 100 recipients, pipelined one transaction per write, ended by RSET: 10 200 commands
        // that all succeed, in one session.
        for transaction in 0..<100 {
            client.send("MAIL FROM:<s\(transaction)@client.test>\r\n"
                + (0..<100).map { "RCPT TO:<user\(transaction * 100 + $0)@partner.test>\r\n" }.joined() + "RSET\r\n")
            for number in 0..<102 {
                let reply = try client.reply()
                let expected = number == 0 ? "250 2.1.0" : number == 101 ? "250 2.0.0" : "250 2.1.5"
                if !(reply.lines.last ?? "").hasPrefix(expected) { wrong.append("\(transaction)/\(number): \(reply)") }
            }
            if transaction % 10 == 9 {
                for pid in server.sessionProcesses() { peak = max(peak, procStatusKB(pid, "VmHWM") ?? 0) }
            }
        }
        #expect(wrong.isEmpty, "\(wrong.prefix(5))")
        print("10 000 accepted RCPTs over 100 transactions: session peak RSS \(peak) kB")
        #expect(peak > 0 && peak < 64 * 1024, "a session's peak RSS: \(peak) kB")
        try client.command("QUIT", 221, "2.0.0")
        #expect(home.todoCount() == 0)
    }

    @Test(arguments: ["GET / HTTP/1.0\r\n\r\n", "POST /submit HTTP/1.1\r\nHost: quail.test\r\nContent-Length: 3\r\n\r\nabc",
                      "CONNECT other.test:25 HTTP/1.0\r\n\r\n"])
    func httpVerbsAreRefused(request: String) throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.expect(220)
        client.send(request)
        let replies = client.drainReplies(quiet: 2)
        if let first = replies.first {
            #expect(first.code / 100 == 5, "\(replies)")
            #expect(first.code == 500 || first.code == 502 || first.code == 554, "\(replies)")
        } else {
            #expect(client.waitForClose(5) != nil, "either a 5xx or a close")
        }
        #expect(!replies.contains { $0.code / 100 == 2 }, "\(replies)")
        #expect(home.todoCount() == 0)
        // The classic one-liner, with a real client's line framing: `printf 'GET / HTTP/1.0\r\n\r\n' | nc`.
        let second = try server.connect()
        try second.expect(220)
        try second.command("GET / HTTP/1.0", 500, "5.5.1")
    }

    @Test func tooManyBadCommandsEndTheSession() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.hello()
        client.send(String(repeating: "XYZZY\r\n", count: 100))
        let replies = client.drainReplies(quiet: 2)
        #expect(replies.contains { $0.code == 421 }, "\(replies.map(\.code))")
        #expect(replies.last?.code == 421, "421 is the last word: \(replies.map(\.code))")
        #expect(replies.count < 100)
        #expect(client.waitForClose(5) != nil)
    }
}
