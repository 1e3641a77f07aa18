import Foundation
import Glibc
import QuailCore
import Testing

/// RCPT for the locals domain quail.test (DESIGN.md, "Local recipients"), with swaks, smtplib and a raw
/// client, under `quail-smtpd --listen` and under tcpserver: what quail-local would refuse is refused at
/// RCPT, and a guessed name gets 550 and never a Maildir.
struct LocalRecipientPolicyTests {
    /// A home taking quail.test (its `me`, so its locals domain) at RCPT, with these `validrcptto` lines or none.
    static func home(validrcptto lines: [String], _ name: String = #function) throws -> TestHome {
        let home = try TestHome(name)
        home.control("rcpthosts", "quail.test")
        let file = home.path + "/control/validrcptto"
        unlink(file)
        if !lines.isEmpty {
            #expect(FileManager.default.createFile(atPath: file, contents: Data((lines.joined(separator: "\n") + "\n").utf8)))
        }
        return home
    }

    static let badNames = [
        "a/b@quail.test", ".hidden@quail.test", "..@quail.test", "a\u{7F}b@quail.test", "\"a\u{1}b\"@quail.test",
        String(repeating: "x", count: 65) + "@quail.test",
    ]

    @Test(arguments: SMTPMode.allCases)
    func whatQuailLocalWouldRefuseIsRefusedAtRCPT(mode: SMTPMode) throws {
        // A catch-all: the name alone refuses these.
        let home = try Self.home(validrcptto: ["@quail.test"])
        let server = try SMTPDaemon(home, mode: mode)
        for address in Self.badNames {
            let reply = try rcptReply(server, address)
            #expect(reply.code / 100 == 5, "\(address.debugDescription): \(reply)")
        }
        let tooLong = try rcptReply(server, String(repeating: "x", count: 65) + "@quail.test")
        #expect(tooLong.code == 553 && tooLong.enhanced == "5.1.3", "\(tooLong)")
        let sixtyFour = try rcptReply(server, String(repeating: "x", count: 64) + "@quail.test")
        #expect(sixtyFour.code == 250, "\(sixtyFour)")
        let run = try swaks(server, ["--to", "a/b@quail.test", "--from", "s@client.test", "--quit-after", "RCPT"])
        #expect(run.replies.contains { $0.hasPrefix("553 5.1.3") }, "\(run.output)")
        #expect(home.todoCount() == 0)
    }

    @Test(arguments: SMTPMode.allCases)
    func aGuessedLocalNameGets550AndNoMaildirAppears(mode: SMTPMode) throws {
        let home = try Self.home(validrcptto: [])
        home.control("aliases", "sales@quail.test: postmaster")
        let server = try SMTPDaemon(home, mode: mode)
        let guess = try rcptReply(server, "Guess@quail.test")
        #expect(guess.code == 550 && guess.enhanced == "5.1.1", "\(guess)")
        let run = try swaks(server, ["--to", "someone@quail.test", "--from", "s@client.test", "--quit-after", "RCPT"])
        #expect(run.replies.contains { $0.hasPrefix("550 5.1.1") }, "\(run.output)")
        // 20 guessed names beside the postmaster and an alias: only those two are taken.
        let result = try smtplib(server, """
            s = smtplib.SMTP(HOST, PORT, timeout=20)
            guesses = ['user%d@quail.test' % n for n in range(20)]
            refused = s.sendmail('s@client.test', guesses + ['postmaster@quail.test', 'Sales@quail.test'], b'Subject: g\\r\\n\\r\\nx\\r\\n')
            print(len(refused), sorted(set(v[0] for v in refused.values())))
            s.quit()
            """)
        #expect(result == "20 [550]")
        #expect(waitUntil(5) { home.todoCount() == 1 })
        #expect(home.queuedMessages().first?.recipients == ["postmaster@quail.test", "Sales@quail.test"])

        let send = try home.startSend()
        defer { send.stop() }
        #expect(waitUntil { home.maildirNew("postmaster", "quail.test").count == 2 }, "\(send.log)")
        #expect(try FileIO.listDirectory(home.path + "/mail/quail.test") == ["postmaster"])
    }
}
