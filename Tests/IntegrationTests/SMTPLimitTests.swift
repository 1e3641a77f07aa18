import Foundation
import Glibc
import QuailCore
import Testing

/// DESIGN.md's limits at quail-smtpd, as real peers meet them: the longest DATA line when it begins with a dot,
/// quoted local parts without a domain, and malformed command lines counted toward the bad-command limit.
struct SMTPLimitTests {
    /// A 998-octet line that begins with a dot: the longest line RFC 5321 §4.5.3.1.6 allows, which a client
    /// sends as 999 octets and CRLF once it has stuffed the dot.
    static let dottedLine = "." + String(repeating: "d", count: 997)

    @Test func dottedLineOf998OctetsFromSmtplibIsAccepted() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let body = "Subject: dotted\r\n\r\n\(Self.dottedLine)\r\nend\r\n"
        let result = try smtplib(server, """
            s = smtplib.SMTP(HOST, PORT, timeout=20)
            print(s.sendmail('alice@client.test', ['user@partner.test'], sys.stdin.buffer.read()))
            s.quit()
            """, input: Array(body.utf8))
        #expect(result == "{}", "smtplib: \(result)")
        #expect(waitUntil(5) { home.todoCount() == 1 })
        let queued = try #require(home.queuedMessages().first)
        #expect(queued.originalText == "Subject: dotted\n\n\(Self.dottedLine)\nend\n")
    }

    /// Postfix's smtp client relays the line into quail: Postfix 3.7 runs as a backup MX of its own for
    /// partner.test (scripts/postfix_peer.py) whose route to the primary is quail-smtpd on 127.0.0.2.
    @Test func dottedLineOf998OctetsFromPostfixIsAccepted() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home, address: "127.0.0.2")
        // The postfix user must reach the instance's directory under the home.
        chmod(home.path, 0o755)
        let body = "From: alice@client.test\r\nTo: user@partner.test\r\nSubject: dotted via postfix\r\n\r\n\(Self.dottedLine)\r\nend\r\n"
        let result = try python("""
            import smtplib, sys, time
            sys.path.insert(0, \(Repository.path("scripts").debugDescription))
            import postfix_peer
            reason = postfix_peer.postfix_installed()
            if reason:
                sys.exit(reason)
            peer = postfix_peer.PostfixPeer(\((home.path + "/postfix").debugDescription), postfix_peer.free_port(), \(server.port))
            peer.start()
            try:
                s = smtplib.SMTP('127.0.0.1', peer.port, timeout=20)
                s.sendmail('alice@client.test', ['user@partner.test'], sys.stdin.buffer.read())
                s.quit()
                # Postfix's log line for the relay attempt says how quail answered.
                print(peer.delivery_status('user@partner.test') or 'no relay attempt logged: ' + peer.log_tail(10))
            finally:
                peer.stop()
            """, input: Array(body.utf8))
        #expect(result.contains("status=sent"), "Postfix: \(result)")
        #expect(waitUntil(5) { home.todoCount() == 1 }, "\(server.log)")
        let queued = try #require(home.queuedMessages().first)
        #expect(queued.originalText.contains("\n\n\(Self.dottedLine)\nend\n"), "\(queued.originalText)")
    }

    /// `<"user@partner.test">` is a quoted local part and no domain: refused at RCPT and at MAIL, never read as
    /// the address inside the quotes.
    @Test func quotedLocalPartWithoutDomainIsRefused() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.hello()
        try client.command("MAIL FROM:<\"alice@client.test\">", 501, "5.5.4")
        try client.command("MAIL FROM:<alice@client.test>", 250, "2.1.0")
        try client.command("RCPT TO:<\"user@partner.test\">", 501, "5.5.4")
        try client.command("RCPT TO:<\"user\"@partner.test>", 250, "2.1.5")
        try client.command("DATA", 354)
        client.send("Subject: quoted\r\n\r\nbody\r\n.\r\n")
        try client.expect(250, "2.0.0")
        try client.command("QUIT", 221, "2.0.0")
        #expect(waitUntil(5) { home.todoCount() == 1 })
        #expect(home.queuedMessages().first?.recipients.count == 1)
    }

    /// Command lines no command may hold, as a client might send them without end.
    enum MalformedLine: String, Sendable, CaseIterable, CustomTestStringConvertible {
        case overLong, nulByte, eightBit
        var testDescription: String { rawValue }
        var bytes: [UInt8] {
            switch self {
            case .overLong: Array(("NOOP " + String(repeating: "a", count: 600) + "\r\n").utf8)
            case .nulByte: Array("NOOP a".utf8) + [0] + Array("b\r\n".utf8)
            case .eightBit: Array("NOOP ".utf8) + [0xFF, 0xC3, 0xA9] + Array("\r\n".utf8)
            }
        }
    }

    /// Malformed lines go through the session like every other line, so they count toward the bad-command
    /// limit: of 100 sent one at a time, the first 10 get 500 5.5.2 and the 11th `421 4.7.0` and a close.
    @Test(arguments: MalformedLine.allCases, SMTPMode.allCases)
    func malformedLinesCountTowardTheBadCommandLimit(line: MalformedLine, mode: SMTPMode) throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home, mode: mode)
        let client = try server.connect()
        try client.hello()
        var codes: [Int] = []
        for _ in 0..<100 {
            guard client.send(line.bytes), let reply = try? client.reply() else { break }
            codes.append(reply.code)
            if reply.code == 421 {
                #expect(reply.enhanced == "4.7.0", "\(reply)")
                break
            }
        }
        #expect(codes == Array(repeating: 500, count: SMTPSession.maximumBadCommands) + [421], "\(codes)")
        #expect(client.waitForClose(5) != nil, "the session is closed")
        #expect(waitUntil(5) { server.log.contains("end: 421;") }, "\(server.log)")
        #expect(server.log.contains(" bad \(SMTPSession.maximumBadCommands + 1)\n"), "\(server.log)")
    }
}
