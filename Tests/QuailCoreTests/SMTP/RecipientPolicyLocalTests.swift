import Glibc
import Testing

@testable import QuailCore

/// RCPT to a locals domain: quail-local's rule for names and for known users (DESIGN.md, "Local recipients").
@Suite struct RecipientPolicyLocalTests {
    /// A session after MAIL, for a host whose locals domain `here.test` is in rcpthosts, with `files` written.
    func session(_ files: [String: String] = [:], relayClient: Bool = false) throws -> (SMTPSession, Configuration) {
        let path = try makeScratchDirectory()
        mkdir(path + "/control", 0o700)
        writeFile(path + "/control/me", "mx.here.test\n")
        writeFile(path + "/control/rcpthosts", "here.test\npartner.test\n")
        writeFile(path + "/control/locals", "here.test\n")
        for (name, text) in files { writeFile(path + "/control/" + name, text) }
        let config = try Configuration(home: QuailHome(path: path), only: Configuration.smtpdFiles)
        var session = SMTPSession(config: config, relayClient: relayClient)
        _ = session.handle(.hello(extended: true, name: "client.test"))
        _ = session.handle(SMTPCommand(line: "MAIL FROM:<sender@example.org>"))
        return (session, config)
    }

    func code(_ action: SMTPSession.Action) -> String {
        guard case .reply(let reply) = action else { return "\(action)" }
        return "\(reply.code) \(reply.enhanced)"
    }

    @Test(arguments: [
        "<a/b@here.test>", "<.hidden@here.test>", "<bob/\u{301}evil@here.test>", "<a\u{85}b@here.test>",
        "<\(String(repeating: "x", count: 65))@here.test>", "<\".hidden\"@here.test>", "<\"a/b\"@here.test>",
    ])
    func namesQuailLocalRefusesAreRefusedAtRcpt(argument: String) throws {
        // Even under a catch-all: the name itself cannot be a Maildir. A control character is refused before, as
        // a syntax error of the address (any address, DESIGN.md "Addresses keep their form").
        let expected = argument.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) } ? "501 5.5.4" : "553 5.1.3"
        var (session, _) = try session(["validrcptto": "@here.test\n"])
        #expect(code(session.handle(.recipient(argument: argument))) == expected)
        var (relaying, _) = try self.session(["validrcptto": "@here.test\n"], relayClient: true)
        #expect(code(relaying.handle(.recipient(argument: argument))) == expected)
    }

    @Test func aLocalUserIsKnownByValidRcptToAnAliasOrAnExistingMaildir() throws {
        var (session, config) = try session([
            "validrcptto": "alice@here.test\nbob@partner.test\n", "aliases": "sales@here.test: alice\n",
        ])
        try FileIO.makeDirectories(config.maildirRoot + "/here.test/dave")
        for known in ["<ALICE@here.test>", "<Sales@here.test>", "<Dave@here.test>", "<postmaster@here.test>"] {
            #expect(code(session.handle(.recipient(argument: known))) == "250 2.1.5", "\(known)")
        }
        #expect(code(session.handle(.recipient(argument: "<eve@here.test>"))) == "550 5.1.1")
        // A backed-up domain keeps validrcptto's rule alone.
        #expect(code(session.handle(.recipient(argument: "<bob@partner.test>"))) == "250 2.1.5")
        #expect(code(session.handle(.recipient(argument: "<eve@partner.test>"))) == "550 5.1.1")
    }

    @Test func withoutLinesAGuessedNameIsRefusedAndNoDirectoryAppears() throws {
        var (session, config) = try session()
        #expect(code(session.handle(.recipient(argument: "<guess@here.test>"))) == "550 5.1.1")
        #expect(code(session.handle(.recipient(argument: "<postmaster@here.test>"))) == "250 2.1.5")
        var (relaying, _) = try self.session(relayClient: true)
        #expect(code(relaying.handle(.recipient(argument: "<guess@here.test>"))) == "550 5.1.1")
        #expect(code(relaying.handle(.recipient(argument: "<anyone@elsewhere.test>"))) == "250 2.1.5")
        #expect(access(config.maildirRoot, F_OK) != 0)
    }

    @Test func aCatchAllTakesEveryWellFormedName() throws {
        var (session, _) = try session(["validrcptto": "@here.test\n"])
        #expect(code(session.handle(.recipient(argument: "<anyone@here.test>"))) == "250 2.1.5")
    }

    @Test func aLinkWhereAMaildirBelongsMakesNoUserKnown() throws {
        var (session, config) = try session()
        try FileIO.makeDirectories(config.maildirRoot + "/here.test")
        try FileIO.makeDirectories(config.maildirRoot + "/../elsewhere")
        #expect(symlink(config.maildirRoot + "/../elsewhere", config.maildirRoot + "/here.test/mallory") == 0)
        #expect(code(session.handle(.recipient(argument: "<mallory@here.test>"))) == "550 5.1.1")
    }
}
