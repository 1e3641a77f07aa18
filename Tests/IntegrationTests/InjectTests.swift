import Foundation
import Testing

@testable import QuailCore

/// quail-inject and quail-sendmail run as built, against a throw-away home and the real quail-queue.
@Suite struct InjectTests {
    /// The environment every run gets: a known user, `control/me` for the host, the real quail-queue.
    private func environment(_ home: TestHome, _ extra: [String: String] = [:]) -> [String: String] {
        home.environment.merging(["QUAILUSER": "alice", "QUAILHOST": "", "QUAILQUEUE": ""]) { $1 }.merging(extra) { $1 }
    }

    private func todo(_ home: TestHome) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: home.queue.todo)) ?? []).map { home.queue.todo + "/" + $0 }
    }

    /// A `$QUAILQUEUE` stand-in that refuses everything with `code`.
    private func refusingQueue(_ home: TestHome, code: Int) -> String {
        let path = home.path + "/queue-exit-\(code)"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("#!/bin/sh\nexit \(code)\n".utf8),
                                               attributes: [.posixPermissions: 0o755]), "\(path) written")
        return path
    }

    @Test func injectQueuesEnvelopeReceivedAndCompletedMessage() throws {
        let home = try TestHome()
        let message = "Subject: hello\r\nTo: Bob <bob@example.com>\r\nBcc: hidden@example.org\r\n\r\nbody\r\n"
        let outcome = try Programs.run("quail-inject", stdin: Array(message.utf8), environment: environment(home))
        #expect(outcome.status == 0, "stderr: \(outcome.stderr)")
        let files = todo(home)
        try #require(files.count == 1)
        let bytes = try #require(FileManager.default.contents(atPath: files[0]))
        let envelope = Array("Falice@quail.test\0Tbob@example.com\0Thidden@example.org\0\0".utf8)
        #expect(Array(bytes.prefix(envelope.count)) == envelope)
        let text = String(decoding: bytes.dropFirst(envelope.count), as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0].hasPrefix("Received: (quail "))
        #expect(lines[1] == "Subject: hello")
        #expect(lines[2] == "To: Bob <bob@example.com>")
        #expect(lines[3].hasPrefix("Date: "))
        #expect(lines[4].hasPrefix("Message-ID: <") && lines[4].hasSuffix("@quail.test>"))
        #expect(lines[5] == "From: alice@quail.test")
        #expect(Array(lines[6...]) == ["", "body", ""])
        #expect(!text.contains("\r") && !text.contains("hidden"))
    }

    @Test func argumentsAreTheRecipientsAndDashFTheSender() throws {
        let home = try TestHome()
        let outcome = try Programs.run("quail-inject", ["-f", "list-bounces@lists.test", "carol", "dan@example.net"],
                                       stdin: Array("To: someone@else.test\n\nhi\n".utf8), environment: environment(home))
        #expect(outcome.status == 0, "stderr: \(outcome.stderr)")
        let files = todo(home)
        try #require(files.count == 1)
        let bytes = try #require(FileManager.default.contents(atPath: files[0]))
        #expect(bytes.starts(with: Array("Flist-bounces@lists.test\0Tcarol@quail.test\0Tdan@example.net\0\0".utf8)))
    }

    @Test func noRecipientsIsPermanentAndQueuesNothing() throws {
        let home = try TestHome()
        let outcome = try Programs.run("quail-inject", stdin: Array("Subject: to nobody\n\nbody\n".utf8), environment: environment(home))
        #expect(outcome.status == 100)
        #expect(outcome.stderr.contains("quail-inject: fatal: no recipients"))
        #expect(todo(home).isEmpty)
    }

    @Test(arguments: [(31, Int32(100), "permanently rejected"), (53, Int32(111), "disk full")])
    func queueExitCodesMapToPermanentOrTemporary(queueCode: Int, expected: Int32, text: String) throws {
        let home = try TestHome()
        let queue = refusingQueue(home, code: queueCode)
        let outcome = try Programs.run("quail-inject", ["bob@example.com"], stdin: Array("Subject: x\n\nbody\n".utf8),
                                       environment: environment(home, ["QUAILQUEUE": queue]))
        #expect(outcome.status == expected)
        #expect(outcome.stderr.contains("quail-inject: fatal: ") && outcome.stderr.contains(text), "stderr: \(outcome.stderr)")
        #expect(todo(home).isEmpty)
    }

    @Test func unreadableControlMeIsTemporary() throws {
        let home = try TestHome()
        try FileManager.default.removeItem(atPath: home.path + "/control/me")
        try FileManager.default.createDirectory(atPath: home.path + "/control/me", withIntermediateDirectories: false)
        let outcome = try Programs.run("quail-inject", ["bob@example.com"], stdin: Array("Subject: x\n\nbody\n".utf8),
                                       environment: environment(home))
        #expect(outcome.status == 111)
        #expect(outcome.stderr.contains("quail-inject: fatal: cannot read control/me"), "stderr: \(outcome.stderr)")
        #expect(todo(home).isEmpty)
    }

    @Test func sendmailTakesHeaderRecipientsAndStopsAtALoneDot() throws {
        let home = try TestHome()
        let message = "To: bob\nSubject: dots\n\nfirst\n.\nnot part of it\n"
        let outcome = try Programs.run("quail-sendmail", ["-t", "-F", "Alice Example", "-oem"], stdin: Array(message.utf8),
                                       environment: environment(home))
        #expect(outcome.status == 0, "stderr: \(outcome.stderr)")
        let files = todo(home)
        try #require(files.count == 1)
        let text = String(decoding: try #require(FileManager.default.contents(atPath: files[0])), as: UTF8.self)
        #expect(text.hasPrefix("Falice@quail.test\0Tbob@quail.test\0\0"))
        #expect(text.contains("From: Alice Example <alice@quail.test>\n"))
        #expect(text.hasSuffix("\n\nfirst\n"))
    }

    @Test func sendmailDashIKeepsLoneDots() throws {
        let home = try TestHome()
        let outcome = try Programs.run("quail-sendmail", ["-i", "--", "bob@example.com"], stdin: Array("\nfirst\n.\nsecond\n".utf8),
                                       environment: environment(home))
        #expect(outcome.status == 0, "stderr: \(outcome.stderr)")
        let files = todo(home)
        try #require(files.count == 1)
        let text = String(decoding: try #require(FileManager.default.contents(atPath: files[0])), as: UTF8.self)
        #expect(text.hasSuffix("\n\nfirst\n.\nsecond\n"))
    }

    @Test func sendmailDashBSIsNotSupportedYet() throws {
        let home = try TestHome()
        let outcome = try Programs.run("quail-sendmail", ["-bs"], environment: environment(home))
        #expect(outcome.status == 100)
        #expect(outcome.stderr == "quail-sendmail: -bs is not supported yet\n")
    }
}
