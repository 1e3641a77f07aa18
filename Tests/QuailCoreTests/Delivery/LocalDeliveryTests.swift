import Glibc
import Synchronization
import Testing

@testable import QuailCore

/// Records what `LocalDelivery` hands to the queue, and answers with a chosen exit code.
final class QueueRecorder: Sendable {
    let exitCode: Int32
    let calls = Mutex<[(message: [UInt8], envelope: Envelope)]>([])

    init(exitCode: Int32 = 0) { self.exitCode = exitCode }

    var submitter: LocalDelivery.Submitter {
        { message, envelope in
            self.calls.withLock { $0.append((message, envelope)) }
            return self.exitCode
        }
    }

    var count: Int { calls.withLock { $0.count } }
}

@Suite struct LocalDeliveryTests {
    let message = Array(
        "Received: (quail 1 invoked by uid 0); Sat, 21 Nov 2026 11:35:16 +0000\nSubject: hi\n\nbody\n".utf8)

    func delivery(_ home: LocalTestHome, queue: QueueRecorder = QueueRecorder()) throws -> LocalDelivery {
        LocalDelivery(configuration: try home.configuration(), submit: queue.submitter)
    }

    @Test func aMessageLandsInTheMaildirBelowReturnPathAndDeliveredTo() throws {
        let home = try LocalTestHome()
        try home.control("validrcptto", "bob@example.com")
        let result = try delivery(home).deliver(
            sender: "a@remote.example", recipient: "Bob@Example.com", message: message)
        guard case .delivered = result else { Issue.record("not delivered: \(result)"); return }
        let files = home.list("mail/example.com/bob/new")
        try #require(files.count == 1)
        let top = Array("Return-Path: <a@remote.example>\nDelivered-To: Bob@Example.com\n".utf8)
        #expect(try FileIO.readFile(home.path + "/mail/example.com/bob/new/" + files[0]) == top + message)
    }

    @Test(arguments: [
        ("", "Return-Path: <>\n"), ("#@[]", "Return-Path: <#@[]>\n"),
        ("x@y\nBcc: z@w", "Return-Path: <x@y?Bcc: z@w>\n"),
    ])
    func returnPathKeepsNullAndDoubleBounceSendersOnOneLine(sender: String, line: String) {
        #expect(LocalDelivery.returnPathLine(sender) == line)
    }

    @Test(arguments: [("bob", true), ("BOB", true), ("postmaster", true), ("eve", false)])
    func unknownUsersOfAValidatedDomainFail(user: String, delivered: Bool) throws {
        let home = try LocalTestHome()
        try home.control("validrcptto", "bob@example.com", "carol@example.com")
        let result = try delivery(home).deliver(sender: "", recipient: "\(user)@example.com", message: message)
        if delivered {
            #expect(result.exitCode == 0, "\(result)")
        } else {
            #expect(result == .failed(LocalReply.noMailbox))
            #expect(!home.exists("mail/example.com/\(user)"))
        }
    }

    @Test func aCatchAllAcceptsAnyoneAndADomainWithoutLinesNoGuessedName() throws {
        let home = try LocalTestHome()
        try home.control("validrcptto", "@example.com", "bob@example.org")
        let local = try delivery(home)
        #expect(local.deliver(sender: "", recipient: "anyone@example.com", message: message).exitCode == 0)
        #expect(local.deliver(sender: "", recipient: "anyone@example.net", message: message) == .failed(LocalReply.noMailbox))
        #expect(local.deliver(sender: "", recipient: "anyone@example.org", message: message).exitCode == 100)
        #expect(home.list("mail") == ["example.com"])
    }

    /// DESIGN.md, "Local recipients": without a validrcptto line, a user is known by an alias or an existing
    /// Maildir (found case-insensitively: Maildirs are named in lower case), and a missing one is made only for them.
    @Test func anExistingMaildirOrAnAliasMakesAUserKnown() throws {
        let home = try LocalTestHome()
        try home.control("aliases", "sales@example.com: carol@other.org")
        try FileIO.makeDirectories(home.path + "/mail/example.com/dave")
        let local = try delivery(home)
        #expect(local.deliver(sender: "", recipient: "Dave@Example.com", message: message).exitCode == 0)
        #expect(home.list("mail/example.com/dave/new").count == 1)
        #expect(local.deliver(sender: "", recipient: "SALES@example.com", message: message).exitCode == 0)
        #expect(local.deliver(sender: "", recipient: "Postmaster@example.com", message: message).exitCode == 0)
        #expect(local.deliver(sender: "", recipient: "eve@example.com", message: message) == .failed(LocalReply.noMailbox))
        #expect(home.list("mail/example.com") == ["dave", "postmaster"])
    }

    @Test func anAliasForwardsWithTheSenderUnchanged() throws {
        let home = try LocalTestHome()
        try home.control("validrcptto", "bob@example.com")
        try home.control("aliases", "sales@example.com: bob, carol@other.org")
        let queue = QueueRecorder()
        let result = try delivery(home, queue: queue).deliver(
            sender: "a@remote.example", recipient: "Sales@example.com", message: message)

        #expect(result == .delivered("forwarded to bob@example.com, carol@other.org"))
        let calls = queue.calls.withLock { $0 }
        try #require(calls.count == 1)
        #expect(
            calls[0].envelope
                == Envelope(sender: "a@remote.example", recipients: ["bob@example.com", "carol@other.org"]))
        #expect(calls[0].message == Array("Delivered-To: Sales@example.com\n".utf8) + message)
        #expect(!home.exists("mail"))
    }

    @Test(arguments: [
        (Int32(0), Int32(0)), (11, 100), (31, 100), (40, 100), (53, 111), (81, 111), (120, 111), (41, 111),
    ])
    func queueExitCodesMapToResults(queueCode: Int32, exitCode: Int32) throws {
        let home = try LocalTestHome()
        try home.control("aliases", "sales@example.com: bob")
        let result = try delivery(home, queue: QueueRecorder(exitCode: queueCode))
            .deliver(sender: "", recipient: "sales@example.com", message: message)
        #expect(result.exitCode == exitCode)
        if queueCode != 0 { #expect(result.text.contains(QueueFailure.text(forExitCode: queueCode))) }
    }

    @Test func anAliasLoopEndsInOneFailureAndNoForward() throws {
        let home = try LocalTestHome()
        try home.control("aliases", "a@example.com: b", "b@example.com: a")
        let queue = QueueRecorder()
        let local = try delivery(home, queue: queue)
        _ = local.deliver(sender: "s@remote.example", recipient: "a@example.com", message: message)
        let toB = try #require(queue.calls.withLock { $0.first })
        _ = local.deliver(sender: "s@remote.example", recipient: "b@example.com", message: toB.message)
        let toA = try #require(queue.calls.withLock { $0.last })
        #expect(queue.count == 2)
        let last = local.deliver(sender: "s@remote.example", recipient: "a@example.com", message: toA.message)
        #expect(last == .failed(LocalReply.deliveredToLoop))
        #expect(queue.count == 2)
    }

    @Test(arguments: [
        ".hidden@example.com", "../x@example.com", "user@..", "no-at-sign", "bob/\u{301}evil@example.com",
        "a\u{85}b@example.com", String(repeating: "x", count: 65) + "@example.com",
    ])
    func unsafeOrMalformedRecipientsFailPermanently(recipient: String) throws {
        let home = try LocalTestHome()
        // Listed, so that only the name's shape refuses them.
        try home.control("validrcptto", "@example.com")
        let result = try delivery(home).deliver(sender: "", recipient: recipient, message: message)
        #expect(result.exitCode == 100, "\(result)")
        #expect(result.text.hasSuffix("(#5.1.3)"))
        #expect(!home.exists("mail"))
    }

    @Test func anUnusableMaildirIsATemporaryFailure() throws {
        let home = try LocalTestHome()
        try home.control("validrcptto", "bob@example.com")
        try FileIO.makeDirectories(home.path + "/mail")
        try home.makeFile("mail/example.com")
        let result = try delivery(home).deliver(sender: "", recipient: "bob@example.com", message: message)
        #expect(result.exitCode == 111)
        #expect(result.text.contains(home.path + "/mail/example.com"))
    }

    @Test func aMalformedControlFileIsATemporaryFailureNamingFileAndLine() throws {
        let home = try LocalTestHome()
        try home.control("aliases", "# comment", "no colon here")
        let empty = try FileIO.open("/dev/null", O_RDONLY)
        defer { close(empty) }
        let result = LocalDelivery.run(sender: "", recipient: "bob@example.com", home: home.home, input: empty)
        #expect(result.exitCode == 111)
        #expect(result.text.hasPrefix("control/aliases line 2:"))
    }

    @Test func anUnreadableMessageIsATemporaryFailure() throws {
        let home = try LocalTestHome()
        let result = LocalDelivery.run(sender: "", recipient: "bob@example.com", home: home.home, input: -1)
        #expect(result.exitCode == 111)
        #expect(result.text.hasPrefix("unable to read the message"))
        #expect(!home.exists("mail"))
    }
}
