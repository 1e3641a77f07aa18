import Foundation
import Glibc
import QuailCore
import Testing

/// Runs the built `quail-local` as quail-send does: `quail-local SENDER RECIPIENT`, message on stdin.
@Suite struct LocalDeliveryTests {
    init() {
        // Programs.run writes stdin on a thread; a child that exits before reading it all (a usage error)
        // must give that write EPIPE, not kill the whole test process with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
    }

    /// A message as the queue hands it over: its `Received:` line on top, LF-ended, bytes that are not UTF-8,
    /// a lone CR, trailing blanks and a `From ` line, which must all arrive unchanged.
    let message: [UInt8] =
        Array("Received: (quail 4242 invoked by uid 0); Sat, 21 Nov 2026 11:35:16 +0000\nSubject: hi  \n\n".utf8)
        + [0xC3, 0x28, 0xFF, 0x0D, 0x0A] + Array("From the start\n.\n\nlast line without newline".utf8)

    func local(_ home: TestHome, _ sender: String, _ recipient: String, stdin: [UInt8]? = nil) throws
        -> Programs.Outcome
    {
        try Programs.run("quail-local", [sender, recipient], stdin: stdin ?? message, environment: home.environment)
    }

    func read(_ path: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path) ?? Data()) }

    func list(_ path: String) -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] }

    @Test(arguments: [("alice@remote.example", "<alice@remote.example>"), ("", "<>"), ("#@[]", "<#@[]>")])
    func aMessageLandsByteIdenticalBelowTwoLines(sender: String, returnPath: String) throws {
        let home = try TestHome()
        let outcome = try local(home, sender, "Bob@Quail.Test")
        #expect(outcome.status == 0, "\(outcome.stdout) \(outcome.stderr)")
        #expect(outcome.stdout.hasPrefix("K") && outcome.stdout.hasSuffix("\n"))
        #expect(outcome.stdout.filter { $0 == "\n" }.count == 1)
        let files = home.maildirNew("bob", "quail.test")
        try #require(files.count == 1)
        let top = Array("Return-Path: \(returnPath)\nDelivered-To: Bob@Quail.Test\n".utf8)
        #expect(read(files[0]) == top + message)
        #expect(list(home.path + "/mail/quail.test/bob/tmp").isEmpty)
        #expect(list(home.path + "/mail/quail.test/bob/cur").isEmpty)
    }

    @Test func anUnknownUserOfAValidatedDomainFailsAndNothingIsWritten() throws {
        let home = try TestHome()
        home.control("validrcptto", "bob@quail.test")
        let outcome = try local(home, "alice@remote.example", "eve@quail.test")
        #expect(outcome.status == 100)
        #expect(outcome.stdout == "D" + LocalReply.noMailbox + "\n")
        #expect(!FileManager.default.fileExists(atPath: home.path + "/mail"))
    }

    /// DESIGN.md, "Local recipients": mail that came around quail-smtpd (quail-inject) for a name nobody listed
    /// fails with a clear text, and no Maildir is made for it.
    @Test func anUnknownUserWithoutValidrcpttoFailsAndNoDirectoryAppears() throws {
        let home = try TestHome()
        unlink(home.path + "/control/validrcptto")
        let outcome = try local(home, "alice@remote.example", "guess@quail.test")
        #expect(outcome.status == 100)
        #expect(outcome.stdout == "D" + LocalReply.noMailbox + "\n")
        #expect(!FileManager.default.fileExists(atPath: home.path + "/mail"))
    }

    /// A combining mark after `/` makes one Swift Character, yet the file system sees the slash.
    @Test(arguments: ["bob/\u{301}evil@quail.test", "next\u{85}line@quail.test", String(repeating: "x", count: 65) + "@quail.test"])
    func aLocalPartThatCannotBeOneDirectoryFailsPermanently(recipient: String) throws {
        let home = try TestHome()
        let outcome = try local(home, "alice@remote.example", recipient)
        #expect(outcome.status == 100, "\(outcome.stdout)")
        #expect(outcome.stdout.hasPrefix("D") && outcome.stdout.hasSuffix("(#5.1.3)\n"), "\(outcome.stdout)")
        #expect(!FileManager.default.fileExists(atPath: home.path + "/mail"))
    }

    /// A symbolic link planted where the domain's or the user's directory belongs is not followed: the delivery
    /// is deferred with a text naming the link (the admin's to remove; a bounce could go to a forged sender),
    /// and nothing appears where it points.
    @Test(arguments: ["mail/quail.test", "mail/quail.test/bob"])
    func aSymbolicLinkBelowMaildirrootDefersAndWritesNothingThrough(link: String) throws {
        let home = try TestHome()
        try FileIO.makeDirectories(home.path + "/elsewhere")
        try FileIO.makeDirectories(FileIO.directoryName(of: home.path + "/" + link))
        #expect(symlink(home.path + "/elsewhere", home.path + "/" + link) == 0)
        let outcome = try local(home, "alice@remote.example", "bob@quail.test")
        #expect(outcome.status == 111, "\(outcome.stdout)")
        #expect(outcome.stdout.hasPrefix("Z") && outcome.stdout.contains(link + " is a symbolic link"), "\(outcome.stdout)")
        #expect(list(home.path + "/elsewhere").isEmpty)
    }

    @Test func aDeliveredToLoopFailsPermanently() throws {
        let home = try TestHome()
        let looping = Array("Delivered-To: BOB@quail.test\n".utf8) + message
        let outcome = try local(home, "alice@remote.example", "bob@quail.test", stdin: looping)
        #expect(outcome.status == 100)
        #expect(outcome.stdout.hasPrefix("D") && outcome.stdout.contains("#5.4.6"))
        #expect(home.maildirNew("bob", "quail.test").isEmpty)
    }

    @Test(arguments: [(100, Int32(0)), (101, 100)])
    func tooManyReceivedLinesFailPermanently(count: Int, status: Int32) throws {
        let home = try TestHome()
        let hops = String(repeating: "Received: from relay by relay; Sat, 21 Nov 2026 11:35:16 +0000\n", count: count)
        let outcome = try local(home, "", "bob@quail.test", stdin: Array((hops + "Subject: s\n\nbody\n").utf8))
        #expect(outcome.status == status, "\(outcome.stdout)")
        #expect(home.maildirNew("bob", "quail.test").count == (status == 0 ? 1 : 0))
    }

    @Test func anUnwritableMaildirIsATemporaryFailure() throws {
        let home = try TestHome()
        // Tests run as root, so permissions stop nothing: a plain file where the domain directory goes does.
        try FileIO.makeDirectories(home.path + "/mail")
        #expect(FileManager.default.createFile(atPath: home.path + "/mail/quail.test", contents: Data("x".utf8)))
        let outcome = try local(home, "alice@remote.example", "bob@quail.test")
        #expect(outcome.status == 111)
        #expect(outcome.stdout.hasPrefix("Z") && outcome.stdout.contains("mail/quail.test"))
        #expect(home.maildirNew("bob", "quail.test").isEmpty)
    }

    @Test func anAliasIsForwardedThroughTheQueue() throws {
        let home = try TestHome()
        home.control("aliases", "sales@quail.test: bob, carol@elsewhere.example")
        let outcome = try local(home, "alice@remote.example", "Sales@quail.test")
        #expect(outcome.status == 0, "\(outcome.stdout) \(outcome.stderr)")
        #expect(outcome.stdout == "Kforwarded to bob@quail.test, carol@elsewhere.example\n")
        #expect(!FileManager.default.fileExists(atPath: home.path + "/mail"))

        let queued = list(home.queue.todo)
        try #require(queued.count == 1)
        let spool = read(home.queue.todo + "/" + queued[0])
        let (envelope, length) = try #require(try Envelope.parsePrefix(spool))
        #expect(
            envelope
                == Envelope(sender: "alice@remote.example", recipients: ["bob@quail.test", "carol@elsewhere.example"]))
        let text = Array(spool[length...])
        let firstLineEnd = try #require(text.firstIndex(of: 0x0A))
        #expect(text[..<firstLineEnd].starts(with: Array("Received: (quail ".utf8)))
        #expect(Array(text[(firstLineEnd + 1)...]) == Array("Delivered-To: Sales@quail.test\n".utf8) + message)
    }

    @Test func aMalformedControlFileIsATemporaryFailure() throws {
        let home = try TestHome()
        home.control("aliases", "sales@quail.test bob")
        let outcome = try local(home, "", "bob@quail.test")
        #expect(outcome.status == 111)
        #expect(outcome.stdout.hasPrefix("Zcontrol/aliases line 1:"))
        #expect(home.maildirNew("bob", "quail.test").isEmpty)
    }

    @Test(arguments: [[String](), ["only-one"], ["a", "b", "c"]])
    func wrongArgumentsAreATemporaryFailure(arguments: [String]) throws {
        let home = try TestHome()
        let outcome = try Programs.run("quail-local", arguments, environment: home.environment)
        #expect(outcome.status == 111)
        #expect(outcome.stdout == "Z" + LocalReply.usage + "\n")
    }
}
