import Foundation
import Glibc
import QuailCore
import Testing

/// Addresses keep their form (DESIGN.md, "Decided details"): a quoted local part reaches the next hop quoted,
/// as one mailbox, whatever its quotes hold; and nothing a stranger put in an address reaches a terminal or a
/// log line raw.
@Suite(.serialized) struct AddressFormTests {
    static let primaryHost = "127.0.0.2"

    func backup(port: UInt16, _ name: String = #function) throws -> TestHome {
        try TestHome.partnerBackup(primary: Self.primaryHost, port: port, name)
    }

    /// Sends one message over SMTP with these raw MAIL and RCPT paths.
    func send(_ server: SMTPDaemon, from sender: String, to recipient: String) throws {
        let client = try server.connect()
        try client.hello()
        try client.beginData(from: sender, to: recipient)
        try client.command("Subject: quoted\r\n\r\nbody\r\n.", 250)
        try client.command("QUIT", 221)
    }

    /// A quoted local part holding `>` and what look like ESMTP parameters arrives at the primary as one
    /// mailbox, with no parameters but the SIZE quail declares itself; `"c d"@…` is delivered as sender and
    /// as recipient instead of going out as the two words `c d@…`.
    @Test func quotedLocalPartsReachThePrimaryQuoted() throws {
        let port = try LoopbackDNS.unusedPort()
        let primary = try RecordingPrimary(Self.primaryHost, port: port)
        let home = try backup(port: port)
        let server = try SMTPDaemon(home)
        try send(server, from: "\"a> RET=FULL ENVID=zz\"@evil.test", to: "user@partner.test")
        try send(server, from: "\"c d\"@example.org", to: "\"c d\"@partner.test")
        let send = try home.startSend()
        defer { send.stop() }
        #expect(waitUntil(30) { primary.messages().count == 2 }, "\(send.log)")
        #expect(waitUntil { home.queueIsEmpty() }, "\(send.log)")
        let envelopes = primary.messages().map(\.envelope)
        #expect(envelopes.count == 2)
        let injected = try #require(envelopes.first { ($0["to"] as? [String]) == ["user@partner.test"] })
        #expect(injected["from"] as? String == "\"a> RET=FULL ENVID=zz\"@evil.test")
        #expect((injected["mail_options"] as? [String])?.filter { !$0.hasPrefix("SIZE=") } == [])
        let spaced = try #require(envelopes.first { ($0["to"] as? [String]) == ["\"c d\"@partner.test"] })
        #expect(spaced["from"] as? String == "\"c d\"@example.org")
        #expect((spaced["mail_options"] as? [String])?.filter { !$0.hasPrefix("SIZE=") } == [])
        #expect(spaced["rcpt_options"] as? [String] == [])
        #expect(!send.log.contains("failure"), "\(send.log)")
    }

    /// Control characters are refused in MAIL and RCPT, quoted or not.
    @Test func controlCharactersInAddressesAreRefusedAtMailAndRcpt() throws {
        let server = try SMTPDaemon(try TestHome.backup())
        let client = try server.connect()
        try client.hello()
        try client.command("MAIL FROM:<a\u{1B}[2Jb@client.test>", 501, "5.5.4")
        try client.command("MAIL FROM:<\"a\u{1B}b\"@client.test>", 501, "5.5.4")
        try client.command("MAIL FROM:<s@client.test>", 250)
        try client.command("RCPT TO:<us\u{7F}er@partner.test>", 501, "5.5.4")
        try client.command("RCPT TO:<\"us\u{1B}er\"@partner.test>", 501, "5.5.4")
        try client.command("RCPT TO:<user@partner.test>", 250)
        try client.command("QUIT", 221)
    }

    /// An address with ESC or a C1 control can still reach the queue through quail-queue, which takes any
    /// envelope from a local user; quail-qread and quail-send's log show it escaped. quail-inject refuses it.
    @Test func qreadAndTheLogEscapeWhatTheQueueHolds() throws {
        let home = try TestHome()
        home.control("smtproutes", "remote.test:[127.0.0.1]:1")
        home.control("retryschedule", "1h")
        let refused = try home.inject("Subject: x\n\nx\n", to: ["a\u{1B}[2Jb@remote.test"])
        #expect(refused.status == 100 && refused.stderr.contains("a\\x1b[2Jb@remote.test"), "\(refused)")
        #expect(home.todoCount() == 0)
        let envelope = "Fevil\u{1B}]0;owned\u{07}@x.test\0Tc1\u{9B}2Jx@remote.test\0\0"
        #expect(try QueueProgramTests().enqueue("Subject: raw\n\nx\n", envelope: Array(envelope.utf8), home: home) == 0)
        let listing = try Programs.run("quail-qread", environment: home.environment)
        #expect(listing.stdout.contains("<evil\\x1b]0;owned\\x07@x.test>"), "\(listing.stdout)")
        #expect(listing.stdout.contains("\tremote\tc1\\x9b2Jx@remote.test"), "\(listing.stdout)")
        #expect(!Self.hasControlCharacter(listing.stdout), "\(listing.stdout.debugDescription)")
        let send = try home.startSend()
        defer { send.stop() }
        #expect(waitUntil { send.log.contains("delivery 1: deferral") }, "\(send.log)")
        #expect(send.log.contains("from <evil\\x1b]0;owned\\x07@x.test>"), "\(send.log)")
        #expect(send.log.contains("to remote c1\\x9b2Jx@remote.test"), "\(send.log)")
        #expect(!Self.hasControlCharacter(send.log), "\(send.log.debugDescription)")
    }

    /// C0 but for line feeds, DEL and C1.
    static func hasControlCharacter(_ text: String) -> Bool {
        text.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || (0x7F...0x9F).contains($0.value) }
    }
}
