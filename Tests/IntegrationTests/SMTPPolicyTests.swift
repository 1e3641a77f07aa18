import Foundation
import Glibc
import QuailCore
import Testing

/// The RCPT reply for `recipient` in a fresh session (one session per address, so refusals never add up to
/// the bad-command limit).
func rcptReply(_ server: SMTPDaemon, _ recipient: String, from sender: String = "sender@client.test") throws -> SMTPClientReply {
    let client = try server.connect()
    try client.hello()
    try client.command("MAIL FROM:<\(sender)>", 250, "2.1.0")
    client.send("RCPT TO:<\(recipient)>\r\n")
    let reply = try client.reply()
    client.send("QUIT\r\n")
    return reply
}

/// Who is accepted at RCPT: rcpthosts, RELAYCLIENT, relay tricks, validrcptto, badmailfrom, with swaks, smtplib
/// and a raw client, under `quail-smtpd --listen` and under tcpserver.
struct SMTPPolicyTests {
    @Test(arguments: SMTPMode.allCases)
    func backupDomainIsAcceptedAndAForeignOneRefused(mode: SMTPMode) throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home, mode: mode)
        let accepted = try swaks(server, ["--to", "user@partner.test", "--from", "sender@client.test", "--quit-after", "RCPT"])
        #expect(accepted.status == 0, "\(accepted.output)")
        #expect(accepted.replies.first?.hasPrefix("220 quail.test") == true, "\(accepted.output)")
        #expect(accepted.replies.contains { $0.hasPrefix("250 2.1.5") }, "\(accepted.output)")
        let refused = try swaks(server, ["--to", "user@other.test", "--from", "sender@client.test", "--quit-after", "RCPT"])
        #expect(refused.status == 24, "swaks: no recipient accepted\n\(refused.output)")
        #expect(refused.replies.contains { $0.hasPrefix("553 5.7.1") }, "\(refused.output)")
        #expect(refused.replies.last?.hasPrefix("221 2.0.0") == true, "\(refused.output)")
        // A whole message to both: only the partner's recipient is in the envelope.
        let sent = try swaks(server, ["--to", "user@partner.test,stranger@other.test", "--from", "sender@client.test",
                                      "--header", "Subject: swaks \(mode)", "--body", "hello from swaks"])
        #expect(sent.status == 0, "\(sent.output)")
        #expect(sent.replies.contains { $0.hasPrefix("250 2.0.0") }, "\(sent.output)")
        #expect(waitUntil(5) { home.todoCount() == 1 })
        let queued = try #require(home.queuedMessages().first)
        #expect(queued.sender == "sender@client.test")
        #expect(queued.recipients == ["user@partner.test"])
        #expect(queued.originalText.contains("Subject: swaks \(mode)\n"))
        #expect(queued.originalText.contains("\n\nhello from swaks\n"))
        #expect(!queued.text.contains("\r"), "the spool stores LF line ends")
        #expect(queued.smtpdReceived.contains("swaks.test") && queued.smtpdReceived.contains("[127.0.0.1]"), "\(queued.smtpdReceived)")
    }

    @Test(arguments: SMTPMode.allCases)
    func hostAndDomainRules(mode: SMTPMode) throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home, mode: mode)
        let cases: [(String, Bool)] = [
            ("user@partner.test", true),            // HOST rule: exactly that domain
            ("user@PARTNER.TEST", true),            // domains compare case-insensitively
            ("user@Partner.Test", true),
            ("user@partner.test.", true),           // a trailing dot is the same domain
            ("user@deep.partner.test", false),      // `partner.test` is not `.partner.test`
            ("user@sub.partner.test", false),       // `.sub.partner.test` is subdomains only
            ("user@a.sub.partner.test", true),
            ("user@x.y.sub.partner.test", true),
            ("user@A.SUB.PARTNER.TEST.", true),
            ("user@evilpartner.test", false),       // a suffix is not a subdomain
            ("user@partner.test.other.test", false),
            ("user@other.test", false),
            ("user@OTHER.TEST.", false),
            // RFC 5321 §4.1.2: a domain has no empty label. Accepting it means the primary refuses it later: a bounce.
            ("user@partner.test..", false),
        ]
        for (recipient, accepted) in cases {
            let reply = try rcptReply(server, recipient)
            if accepted {
                #expect(reply.code == 250 && reply.enhanced == "2.1.5", "\(recipient): \(reply)")
            } else {
                #expect(reply.code / 100 == 5, "\(recipient) must be refused: \(reply)")
                #expect(reply.code == 553 || reply.code == 501, "\(recipient): \(reply)")
            }
        }
        // The trailing-dot form is the same recipient: the envelope holds the address without the dot.
        let run = try swaks(server, ["--to", "user@Partner.Test.", "--from", "s@client.test", "--body", "dot"])
        #expect(run.status == 0, "\(run.output)")
        #expect(home.queuedMessages().first?.recipients.map { $0.lowercased() } == ["user@partner.test"])
        // With both lines, the DOMAIN rule: the domain and every subdomain.
        home.control("rcpthosts", "partner.test", ".partner.test")
        #expect(try rcptReply(server, "user@deep.partner.test").code == 250)
        #expect(try rcptReply(server, "user@partner.test").code == 250)
        #expect(try rcptReply(server, "user@evilpartner.test").code == 553)
        #expect(home.todoCount() == 1)
    }

    @Test(arguments: SMTPMode.allCases)
    func everyRelayTrickIsRefused(mode: SMTPMode) throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home, mode: mode)
        let tricks = [
            "user%other.test@partner.test",
            "user%other.test@PARTNER.TEST.",
            "@partner.test:user@other.test",            // source route: the final address decides
            "@partner.test,@a.sub.partner.test:user@other.test",
            "\"user@other.test\"@partner.test",
            "\"user%other.test\"@partner.test",
            "other.test!user@partner.test",
            "user@[127.0.0.1]",
            "user@[192.0.2.1]",
            "user@other.test.",
            "user@other.test@partner.test",
            "user@partner.test@other.test",
        ]
        for trick in tricks {
            let reply = try rcptReply(server, trick)
            #expect(reply.code / 100 == 5, "\(trick) must be refused with a 5xx: \(reply)")
        }
        // The same with swaks, one real client's framing, for the classic ones.
        for trick in ["user%other.test@partner.test", "@partner.test:user@other.test", "other.test!user@partner.test"] {
            let run = try swaks(server, ["--to", trick, "--from", "sender@client.test", "--quit-after", "RCPT"])
            #expect(run.codes.contains { $0 / 100 == 5 } && !run.replies.contains { $0.hasPrefix("250 2.1.5") }, "\(trick): \(run.output)")
        }
        // A source route through us to a partner address is just that address.
        #expect(try rcptReply(server, "@other.test:user@partner.test").code == 250)
        #expect(home.todoCount() == 0)
    }

    @Test func relayClientLetsAnyRecipientThrough() throws {
        let home = try TestHome.backup()
        // On stdin/stdout, as under inetd: RELAYCLIENT set, even empty, means any recipient.
        let script = "EHLO client.test\r\nMAIL FROM:<s@client.test>\r\nRCPT TO:<user@other.test>\r\nQUIT\r\n"
        let relay = try Programs.run("quail-smtpd", stdin: Array(script.utf8),
                                     environment: home.environment.merging(["TCPREMOTEIP": "192.0.2.9", "RELAYCLIENT": ""]) { $1 })
        #expect(relay.stdout.contains("\r\n250 2.1.5"), "\(relay.stdout) \(relay.stderr)")
        let strict = try Programs.run("quail-smtpd", stdin: Array(script.utf8),
                                      environment: home.environment.merging(["TCPREMOTEIP": "192.0.2.9"]) { $1 })
        #expect(strict.stdout.contains("\r\n553 5.7.1"), "\(strict.stdout) \(strict.stderr)")
        #expect(!strict.stdout.contains("\r\n250 2.1.5"))
        // Under tcpserver, RELAYCLIENT comes from tcpserver's environment (as with a -x rules file).
        let server = try SMTPDaemon(home, mode: .tcpserver, environment: ["RELAYCLIENT": ""])
        let run = try swaks(server, ["--to", "user@other.test", "--from", "s@client.test", "--body", "relayed"])
        #expect(run.status == 0, "\(run.output)")
        #expect(waitUntil(5) { home.todoCount() == 1 })
        #expect(home.queuedMessages().first?.recipients == ["user@other.test"])
    }

    @Test(arguments: SMTPMode.allCases)
    func validrcpttoRefusesUnknownUsersOfValidatedDomains(mode: SMTPMode) throws {
        let home = try TestHome.backup()
        home.control("validrcptto", "alice@partner.test", "# a comment", "@a.sub.partner.test")
        let server = try SMTPDaemon(home, mode: mode)
        let bob = try rcptReply(server, "bob@partner.test")
        #expect(bob.code == 550 && bob.enhanced == "5.1.1", "\(bob)")
        for address in ["alice@partner.test", "ALICE@partner.test", "Alice@PARTNER.TEST.", "postmaster@partner.test",
                        "PostMaster@partner.test", "anyone@a.sub.partner.test", "anyone@b.sub.partner.test"] {
            let reply = try rcptReply(server, address)
            #expect(reply.code == 250 && reply.enhanced == "2.1.5", "\(address): \(reply)")
        }
        // The relay check comes first: a foreign domain is not "an unknown user", it is refused as relaying.
        let foreign = try rcptReply(server, "bob@other.test")
        #expect(foreign.code == 553 && foreign.enhanced == "5.7.1", "\(foreign)")
        // swaks sees the same refusal.
        let run = try swaks(server, ["--to", "bob@partner.test", "--from", "s@client.test", "--quit-after", "RCPT"])
        #expect(run.replies.contains { $0.hasPrefix("550 5.1.1") }, "\(run.output)")
        // smtplib: a message to alice and bob reaches alice only.
        let result = try smtplib(server, """
            s = smtplib.SMTP(HOST, PORT, timeout=20)
            refused = s.sendmail('s@client.test', ['alice@partner.test', 'bob@partner.test'], b'Subject: v\\r\\n\\r\\nx\\r\\n')
            print(sorted((k, v[0]) for k, v in refused.items()))
            s.quit()
            """)
        #expect(result == "[('bob@partner.test', 550)]")
        #expect(waitUntil(5) { home.todoCount() == 1 })
        #expect(home.queuedMessages().first?.recipients == ["alice@partner.test"])
    }

    @Test(arguments: SMTPMode.allCases)
    func badmailfromIsRefusedAtRCPT(mode: SMTPMode) throws {
        let home = try TestHome.backup()
        home.control("badmailfrom", "spammer@evil.test", "@bad.test")
        let server = try SMTPDaemon(home, mode: mode)
        for sender in ["spammer@evil.test", "SPAMMER@Evil.Test", "anyone@bad.test", "anyone@BAD.TEST"] {
            let client = try server.connect()
            try client.hello()
            try client.command("MAIL FROM:<\(sender)>", 250, "2.1.0")  // qmail refuses at RCPT, not at MAIL
            try client.command("RCPT TO:<user@partner.test>", 553, "5.7.1")
            try client.command("QUIT", 221, "2.0.0")
        }
        for sender in ["friend@evil.test", "spammer@notbad.test", "anyone@sub.bad.test"] {
            #expect(try rcptReply(server, "user@partner.test", from: sender).code == 250, "\(sender)")
        }
        let run = try swaks(server, ["--to", "user@partner.test", "--from", "spammer@evil.test", "--body", "spam"])
        #expect(run.replies.contains { $0.hasPrefix("553 5.7.1") }, "\(run.output)")
        #expect(run.status != 0)
        #expect(home.todoCount() == 0)
    }
}
