import Foundation
import Glibc
import QuailCore
import Testing

/// RFC 5321 commands and replies, limits, PIPELINING, the Received line, byte-exact queueing, ETRN.
struct SMTPProtocolTests {
    @Test func greetingEHLOAndEveryCommandReply() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        let greeting = try client.expect(220)
        #expect(greeting.lines.last?.hasPrefix("220 quail.test ESMTP") == true, "\(greeting)")
        let ehlo = try client.command("EHLO client.test", 250)
        #expect(ehlo.lines.first?.hasPrefix("250-quail.test") == true, "\(ehlo)")
        let keywords = Set(ehlo.texts.dropFirst().map { $0.uppercased() })
        for keyword in ["PIPELINING", "SIZE 20971520", "8BITMIME", "ENHANCEDSTATUSCODES", "ETRN"] {
            #expect(keywords.contains(keyword), "EHLO lacks \(keyword): \(ehlo)")
        }
        try client.command("HELO again.test", 250)
        try client.command("NOOP", 250, "2.0.0")
        try client.command("RSET", 250, "2.0.0")
        try client.command("VRFY postmaster", 252, "2.5.2")
        try client.command("HELP", 214)
        try client.command("noop", 250, "2.0.0")  // verbs are case-insensitive
        // Order: RCPT before MAIL, DATA before RCPT, a second MAIL.
        try client.command("RCPT TO:<user@partner.test>", 503, "5.5.1")
        try client.command("DATA", 503, "5.5.1")
        try client.command("MAIL FROM:<s@client.test>", 250, "2.1.0")
        try client.command("MAIL FROM:<s@client.test>", 503, "5.5.1")
        try client.command("DATA", 503, "5.5.1")
        try client.command("RSET", 250, "2.0.0")
        try client.command("RCPT TO:<user@partner.test>", 503, "5.5.1")  // RSET forgot the sender
        try client.command("QUIT", 221, "2.0.0")
        // Syntax, in a session of its own: each session may make only so many mistakes.
        let syntax = try server.connect()
        try syntax.hello()
        try syntax.command("MAIL FROM:<s@client.test", 501, "5.5.4")
        try syntax.command("MAIL", 501, "5.5.4")
        try syntax.command("MAIL TO:<s@client.test>", 501, "5.5.4")
        try syntax.command("MAIL FROM:<s@client.test> FROBNICATE=1", 555, "5.5.4")
        try syntax.command("MAIL FROM:<s@client.test> SIZE=abc", 501, "5.5.4")
        try syntax.command("MAIL FROM:<>", 250, "2.1.0")  // the null sender
        try syntax.command("RCPT TO:<user@partner.test> NOTIFY=NEVER", 555, "5.5.4")  // DSN is not advertised
        try syntax.command("RCPT TO:<>", 501, "5.5.4")
        try syntax.command("RCPT TO:<user@partner.test", 501, "5.5.4")
        try syntax.command("RCPT TO:<user@partner.test>", 250, "2.1.5")
        try syntax.command("XYZZY", 500, "5.5.1")
        try syntax.command("QUIT", 221, "2.0.0")
        #expect(syntax.waitForClose(5) != nil, "QUIT closes the connection")
        #expect(home.todoCount() == 0)
    }

    /// RFC 5321 §4.5.1: "RCPT TO:<Postmaster>" with no domain MUST be supported; it means postmaster at this host.
    @Test func postmasterWithoutADomainIsAccepted() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.hello()
        try client.command("MAIL FROM:<s@client.test>", 250, "2.1.0")
        let first = try client.command("RCPT TO:<Postmaster>", 250, "2.1.5")
        try #require(first.code == 250)
        try client.command("RCPT TO:<postmaster>", 250, "2.1.5")
        try client.command("RCPT TO:<someone>", 501, "5.5.4")  // only postmaster goes without a domain
        try client.command("DATA", 354)
        client.send("Subject: to the postmaster\r\n\r\nhello\r\n.\r\n")
        try client.expect(250, "2.0.0")
        let recipients = try #require(home.queuedMessages().first).recipients.map { $0.lowercased() }
        #expect(Set(recipients) == ["postmaster@quail.test"], "\(recipients)")
    }

    @Test func heloAndEhloWithoutAName() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.expect(220)
        try client.command("EHLO", 501, "5.5.4")
        try client.command("HELO", 501, "5.5.4")
        try client.command("HELO client.test", 250)
        try client.command("MAIL FROM:<s@client.test>", 250, "2.1.0")
        try client.command("QUIT", 221, "2.0.0")
    }

    @Test func stdinStdoutModeAnswersASessionAndRecordsTheClient() throws {
        let home = try TestHome.backup()
        let script = "EHLO helo.client.test\r\nMAIL FROM:<s@client.test>\r\nRCPT TO:<user@partner.test>\r\nDATA\r\n"
            + "Subject: inetd\r\n\r\nbody\r\n.\r\nQUIT\r\n"
        let outcome = try Programs.run("quail-smtpd", stdin: Array(script.utf8), environment: home.environment.merging([
            "TCPREMOTEIP": "192.0.2.7", "TCPREMOTEHOST": "client.example.test", "TCPLOCALIP": "192.0.2.1", "TCPLOCALHOST": "mx.quail.test",
        ]) { $1 })
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let codes = outcome.stdout.components(separatedBy: "\r\n").filter { $0.count >= 4 && $0.dropFirst(3).first == " " }.map { String($0.prefix(3)) }
        #expect(codes == ["220", "250", "250", "250", "354", "250", "221"], "\(outcome.stdout)")
        #expect(home.todoCount() == 1)
        let received = try #require(home.queuedMessages().first).smtpdReceived
        #expect(received.contains("helo.client.test"), "\(received)")
        #expect(received.contains("192.0.2.7"), "\(received)")
        #expect(received.contains("client.example.test"), "\(received)")
        #expect(received.contains("quail.test"), "\(received)")
        #expect(received.contains("ESMTP"), "\(received)")
    }

    @Test func receivedLineRecordsHELONameAddressMeProtocolAndDate() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        for extended in [true, false] {
            let client = try server.connect()
            try client.hello(extended ? "ehlo-name.client.test" : "helo-name.client.test", extended: extended)
            try client.beginData()
            client.send("Subject: \(extended ? "extended" : "plain")\r\n\r\nx\r\n.\r\n")
            try client.expect(250, "2.0.0")
            try client.command("QUIT", 221, "2.0.0")
        }
        let messages = home.queuedMessages()
        #expect(messages.count == 2)
        for message in messages {
            let extended = message.originalText.hasPrefix("Subject: extended")
            let received = message.smtpdReceived
            #expect(message.queueReceived.hasPrefix("Received: (quail "), "\(message.text)")
            #expect(received.hasPrefix("Received: from "), "\(received)")
            #expect(received.contains(extended ? "ehlo-name.client.test" : "helo-name.client.test"), "\(received)")
            #expect(received.contains("127.0.0.1"), "\(received)")
            #expect(received.contains("by quail.test"), "\(received)")
            let words = received.split { !$0.isLetter }.map(String.init)
            if extended {
                #expect(words.contains("ESMTP"), "\(received)")
            } else {
                #expect(words.contains("SMTP") && !words.contains("ESMTP"), "\(received)")
            }
            // The date after the last `;` is an RFC 5322 date within a few minutes of now.
            let date = String(received[received.index(after: try #require(received.lastIndex(of: ";")))...])
            let age = try python("""
                import email.utils, sys, time
                print(abs(int(time.time() - email.utils.parsedate_to_datetime(sys.stdin.read().strip()).timestamp())))
                """, input: Array(date.utf8))
            #expect((Int(age) ?? 9999) < 300, "\(received)")
        }
    }

    @Test func smtplibMessageArrivesByteIdenticalAndDotUnstuffed() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let body = "From: alice@client.test\r\nTo: user@partner.test\r\nSubject: dots\r\n\r\n"
            + ".x leading dot\r\n..y two dots\r\n.\tdot tab\r\n...\r\n. \r\nline\twith tab and trailing space \r\n"
            + "caf\u{e9} 8-bit \u{2603}\r\n\r\n\r\nlast line\r\n"
        let result = try smtplib(server, """
            s = smtplib.SMTP(HOST, PORT, timeout=20)
            s.ehlo('py.client.test')
            print(s.has_extn('8bitmime'), s.has_extn('pipelining'))
            s.sendmail('alice@client.test', ['user@partner.test', 'postmaster@PARTNER.test'], sys.stdin.buffer.read(), mail_options=['BODY=8BITMIME'])
            s.quit()
            """, input: Array(body.utf8))
        #expect(result == "True True")
        #expect(waitUntil(5) { home.todoCount() == 1 })
        let queued = try #require(home.queuedMessages().first)
        #expect(queued.sender == "alice@client.test")
        #expect(queued.recipients == ["user@partner.test", "postmaster@PARTNER.test"] || queued.recipients == ["user@partner.test", "postmaster@partner.test"])
        let expected = Array(body.replacingOccurrences(of: "\r\n", with: "\n").utf8)
        #expect(queued.original == expected, "got \(queued.originalText.debugDescription)")
        // And a raw client's `..x` arrives as `.x`; a lone `..` as `.`.
        let client = try server.connect()
        try client.hello()
        try client.beginData()
        client.send("Subject: raw\r\n\r\n..x\r\n..\r\n...\r\nx.\r\n.\r\n")
        try client.expect(250, "2.0.0")
        #expect(waitUntil(5) { home.todoCount() == 2 })
        let raw = try #require(home.queuedMessages().first { $0.originalText.hasPrefix("Subject: raw") })
        #expect(raw.originalText == "Subject: raw\n\n.x\n.\n..\nx.\n")
    }

    @Test func emptyMessageAndASecondTransactionInOneSession() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.hello()
        try client.beginData()
        client.send(".\r\n")
        try client.expect(250, "2.0.0")
        #expect(home.todoCount() == 1)
        // The session goes on: a second transaction in the same session.
        try client.beginData()
        client.send("Subject: second\r\n\r\nsecond\r\n.\r\n")
        try client.expect(250, "2.0.0")
        try client.command("QUIT", 221, "2.0.0")
        #expect(home.todoCount() == 2)
    }

    @Test func pipelinedTransactionInOneWriteGetsEveryReplyInOrder() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.expect(220)
        client.send("EHLO pipe.client.test\r\nMAIL FROM:<s@client.test>\r\nRCPT TO:<a@partner.test>\r\nRCPT TO:<x@other.test>\r\n"
            + "RCPT TO:<b@partner.test>\r\nDATA\r\nSubject: pipelined\r\n\r\nbody\r\n.\r\nNOOP\r\n"
            + "MAIL FROM:<t@client.test>\r\nRCPT TO:<c@partner.test>\r\nRSET\r\nQUIT\r\n")
        let expected: [(Int, String?)] = [(250, nil), (250, "2.1.0"), (250, "2.1.5"), (553, "5.7.1"), (250, "2.1.5"), (354, nil),
                                          (250, "2.0.0"), (250, "2.0.0"), (250, "2.1.0"), (250, "2.1.5"), (250, "2.0.0"), (221, "2.0.0")]
        for (code, enhanced) in expected { try client.expect(code, enhanced) }
        #expect(client.waitForClose(5) != nil)
        #expect(home.todoCount() == 1)
        let queued = try #require(home.queuedMessages().first)
        #expect(queued.recipients == ["a@partner.test", "b@partner.test"])
        #expect(queued.originalText == "Subject: pipelined\n\nbody\n")

        // The same with swaks --pipeline, a real client.
        let run = try swaks(server, ["--pipeline", "--to", "d@partner.test,e@partner.test", "--from", "s@client.test", "--body", "swaks pipelined"])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("PIPELINING"), "\(run.output)")
        #expect(waitUntil(5) { home.todoCount() == 2 })
    }

    /// RFC 2920 §3.2: replies may wait while more complete commands are in the input buffer, never while the
    /// server waits for the rest of a line; else a client that has sent a command and part of the next deadlocks.
    @Test func repliesAreFlushedBeforeWaitingForTheRestOfALine() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.hello()
        client.send("NOOP\r\nMAIL FROM:<s@client.test>\r\nRCPT TO:<u")
        try client.expect(250, "2.0.0", timeout: 3)
        try client.expect(250, "2.1.0", timeout: 3)
        client.send("ser@partner.test>\r\nDATA\r\nSubject: split\r\n\r\nbo")
        try client.expect(250, "2.1.5", timeout: 3)
        try client.expect(354, timeout: 3)
        client.send("dy\r\n.\r\nQU")
        try client.expect(250, "2.0.0", timeout: 3)
        client.send("IT\r\n")
        try client.expect(221, "2.0.0")
        #expect(home.queuedMessages().first?.originalText == "Subject: split\n\nbody\n")
    }

    @Test func databytesAtMAILAndAtDATA() throws {
        let home = try TestHome.backup()
        home.control("databytes", "1000")
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.expect(220)
        let ehlo = try client.command("EHLO client.test", 250)
        #expect(ehlo.texts.contains("SIZE 1000"), "\(ehlo)")
        try client.command("MAIL FROM:<s@client.test> SIZE=2000", 552, "5.3.4")
        try client.command("MAIL FROM:<s@client.test> SIZE=900 BODY=8BITMIME", 250, "2.1.0")
        try client.command("RCPT TO:<user@partner.test>", 250, "2.1.5")
        try client.command("DATA", 354)
        // Over the limit: read to its end (no reply before the dot), then 552, nothing queued.
        client.send("Subject: big\r\n\r\n" + String(repeating: "0123456789012345678901234567890123456789\r\n", count: 200))
        #expect(throws: SMTPClientError.self, "no reply before the end of DATA") { try client.reply(timeout: 1) }
        client.send(".\r\n")
        try client.expect(552, "5.3.4")
        try client.command("NOOP", 250, "2.0.0")  // the session goes on, the data was not taken as commands
        #expect(home.todoCount() == 0)
        // Within the limit: accepted.
        try client.beginData()
        client.send("Subject: small\r\n\r\nsmall\r\n.\r\n")
        try client.expect(250, "2.0.0")
        try client.command("QUIT", 221, "2.0.0")
        #expect(home.todoCount() == 1)
        // swaks sees the same refusal at MAIL... (swaks does not send SIZE=, so a big body is refused after DATA)
        let run = try swaks(server, ["--to", "user@partner.test", "--from", "s@client.test", "--body", String(repeating: "x", count: 3000)])
        #expect(run.replies.contains { $0.hasPrefix("552 5.3.4") }, "\(run.output)")
        #expect(home.todoCount() == 1)
        // ...and smtplib, which does send SIZE= when the server advertises it.
        let result = try smtplib(server, """
            s = smtplib.SMTP(HOST, PORT, timeout=20)
            try:
                s.sendmail('s@client.test', ['user@partner.test'], b'Subject: x\\r\\n\\r\\n' + b'y' * 5000)
            except smtplib.SMTPSenderRefused as e:
                print(e.smtp_code, e.smtp_error.decode().split()[0])
            """)
        #expect(result == "552 5.3.4")
        #expect(home.todoCount() == 1)
    }

    @Test func oneHundredRecipientsAndThe101stIsDeferred() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.hello()
        try client.command("MAIL FROM:<s@client.test>", 250, "2.1.0")
        for number in 1...100 { try client.command("RCPT TO:<user\(number)@partner.test>", 250, "2.1.5") }
        try client.command("RCPT TO:<user101@partner.test>", 452, "4.5.3")
        try client.command("DATA", 354)
        client.send("Subject: many\r\n\r\nmany\r\n.\r\n")
        try client.expect(250, "2.0.0")
        try client.command("QUIT", 221, "2.0.0")
        let queued = try #require(home.queuedMessages().first)
        #expect(queued.recipients.count == 100)
        #expect(queued.recipients.first == "user1@partner.test" && queued.recipients.last == "user100@partner.test")
    }

    @Test func longDataLineIsRefusedAfterTheEndOfDATA() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.hello()
        try client.beginData()
        // 998 octets + CRLF is the RFC 5321 limit and fine; 1500 octets is not.
        client.send("Subject: long\r\n\r\n" + String(repeating: "a", count: 998) + "\r\n" + String(repeating: "b", count: 1500) + "\r\nend\r\n.\r\n")
        let refused = try client.expect(554, "5.5.2")
        #expect(refused.code / 100 == 5)
        try client.command("NOOP", 250, "2.0.0")
        #expect(home.todoCount() == 0)
        try client.beginData()
        client.send("Subject: exactly 998\r\n\r\n" + String(repeating: "a", count: 998) + "\r\n.\r\n")
        try client.expect(250, "2.0.0")
        #expect(home.todoCount() == 1)
    }

    @Test func moreThanOneHundredReceivedLinesIsALoop() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.hello()
        func send(_ header: String) throws {
            try client.beginData()
            client.send(header + "Subject: hops\r\n\r\nbody\r\n.\r\n")
        }
        let hop = "Received: from a.test by b.test; Thu, 1 Jan 2026 00:00:00 +0000\r\n"
        try send(String(repeating: hop, count: 101))
        try client.expect(554, "5.4.6")
        #expect(home.todoCount() == 0)
        // Folded Received fields count once each; 60 of them are fine.
        try send(String(repeating: "Received: from a.test\r\n\tby b.test; Thu, 1 Jan 2026 00:00:00 +0000\r\n", count: 60))
        try client.expect(250, "2.0.0")
        // Only the header counts: Received lines in the body are text.
        try send("Subject: quoted\r\n\r\n" + String(repeating: hop, count: 150))
        try client.expect(250, "2.0.0")
        try client.command("QUIT", 221, "2.0.0")
        #expect(home.todoCount() == 2)
    }

    @Test func brokenControlFileGets421AtConnect() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        home.control("databytes", "lots")  // after the start: the listener may read control files itself
        let client = try server.connect()
        try client.expect(421, "4.3.0")
        #expect(client.waitForClose(5) != nil)
        #expect(waitUntil(5) { server.log.contains("control/databytes") }, "the log names the file: \(server.log)")
        // Fixed by hand: the next connection is served, without restarting anything.
        home.control("databytes", "5000")
        let again = try server.connect()
        try again.hello()
    }

    @Test func brokenFileOnlyQuailSendReadsDoesNotCloseTheDoor() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        home.control("smtproutes", "no colon here")
        home.control("retryschedule", "soon")
        let client = try server.connect()
        try client.hello()
        try client.beginData()
        client.send("Subject: routes are quail-send's business\r\n\r\nbody\r\n.\r\n")
        try client.expect(250, "2.0.0")
        #expect(home.todoCount() == 1)
    }

    @Test func queueFailureIsATemporaryErrorAndNothingIsAcknowledged() throws {
        let home = try TestHome.backup()
        // $QUAILQUEUE names another program with quail-queue's interface; this one fails as qmail-queue does
        // when it cannot write the queue (exit 53: write error).
        let failing = home.path + "/failing-queue"
        _ = FileManager.default.createFile(atPath: failing, contents: Data("#!/bin/sh\ncat >/dev/null\nexit 53\n".utf8),
                                       attributes: [.posixPermissions: 0o755])
        let server = try SMTPDaemon(home, environment: ["QUAILQUEUE": failing])
        let client = try server.connect()
        try client.hello()
        try client.beginData()
        client.send("Subject: x\r\n\r\nx\r\n.\r\n")
        let reply = try client.expect(451)
        #expect(reply.enhanced?.hasPrefix("4.") == true, "\(reply)")
        #expect(home.todoCount() == 0)
        // A permanent refusal by the queue program (qmail-queue's 31: "mail server permanently rejected message").
        let refusing = home.path + "/refusing-queue"
        _ = FileManager.default.createFile(atPath: refusing, contents: Data("#!/bin/sh\ncat >/dev/null\nexit 31\n".utf8),
                                           attributes: [.posixPermissions: 0o755])
        let strict = try SMTPDaemon(home, environment: ["QUAILQUEUE": refusing])
        let second = try strict.connect()
        try second.hello()
        try second.beginData()
        second.send("Subject: x\r\n\r\nx\r\n.\r\n")
        let permanent = try second.expect(554)
        #expect(permanent.enhanced?.hasPrefix("5.") == true, "\(permanent)")
        try second.command("NOOP", 250, "2.0.0")
        #expect(home.todoCount() == 0)
    }

    // MARK: ETRN

    /// Opens the control FIFO for reading without blocking, as quail-send holds it.
    func openControlFIFO(_ home: TestHome) throws -> Int32 {
        let fd = open(home.queue.controlFIFO, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else { throw HarnessError("cannot open \(home.queue.controlFIFO): errno \(errno)") }
        return fd
    }

    func readFIFO(_ fd: Int32) -> String {
        var collected: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            collected += chunk[0..<count]
        }
        return String(decoding: collected, as: UTF8.self)
    }

    @Test func etrnRepliesAndTheFlushRequestReachesTheControlFIFO() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let fifo = try openControlFIFO(home)
        defer { close(fifo) }
        let client = try server.connect()
        try client.hello()
        // RFC 1985's 250 without a count, whatever waits: counting would read the whole queue.
        let started = try client.command("ETRN partner.test", 250, "2.0.0")
        #expect(started.lines.last?.contains("queuing for node partner.test started") == true, "\(started)")
        // A domain we do not back up: 459 with a temporary status, as the code is.
        try client.command("ETRN other.test", 459, "4.7.1")
        try client.command("ETRN", 501)
        var lines = ""
        #expect(waitUntil(5) { lines += readFIFO(fifo); return lines.contains("etrn partner.test\n") }, "FIFO got: \(lines.debugDescription)")
        #expect(!lines.contains("other.test"), "no flush for a domain refused with 459: \(lines.debugDescription)")
        // A subdomain under a `.domain` line is ours too; case does not matter.
        try client.command("ETRN A.Sub.Partner.Test", 250)
        #expect(waitUntil(5) { lines += readFIFO(fifo); return lines.contains("etrn a.sub.partner.test\n") }, "FIFO got: \(lines.debugDescription)")
        try client.command("QUIT", 221, "2.0.0")
    }

    @Test func etrnWithNobodyReadingTheFIFOIs458() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.hello()
        try client.command("ETRN partner.test", 458)
        try client.command("ETRN other.test", 459, "4.7.1")
        try client.command("QUIT", 221, "2.0.0")
        // swaks can speak ETRN too, as a raw command... the raw client is the check; swaks only confirms EHLO advertises it.
        let run = try swaks(server, ["--quit-after", "EHLO"])
        #expect(run.output.contains("ETRN"), "\(run.output)")
    }
}
