import Foundation
import Testing

@testable import QuailCore

@Suite struct BounceTests {
    private static let original = Array("""
        Received: (quail 1 invoked by uid 1000); Tue, 14 Nov 2023 22:13:20 +0000
        From: alice@example.com
        To: bob@example.net
        Subject: The quarterly numbers

        Hello Bob.

        """.utf8)

    private func bounce(_ failures: [FailedRecipient], sender: String = "alice@example.com") -> [UInt8] {
        Bounce.message(original: BounceTests.original, originalSender: sender, failures: failures, arrival: 1_700_000_000,
                       now: 1_700_003_600, me: "mx.example.org", from: "MAILER-DAEMON@mx.example.org", to: sender)
    }

    @Test func bounceGoesToTheSenderFromTheNullSender() {
        #expect(Bounce.envelope(originalSender: "alice@example.com", doubleBounceTo: "postmaster", me: "mx.test")
            == Envelope(sender: "", recipients: ["alice@example.com"]))
    }

    @Test func doubleBounceGoesToDoubleBounceToFromHashAtBrackets() {
        #expect(Bounce.envelope(originalSender: "", doubleBounceTo: "postmaster", me: "mx.test")
            == Envelope(sender: "#@[]", recipients: ["postmaster@mx.test"]))
        #expect(Bounce.envelope(originalSender: "", doubleBounceTo: "admin@elsewhere.test", me: "mx.test")
            == Envelope(sender: "#@[]", recipients: ["admin@elsewhere.test"]))
    }

    @Test func failedDoubleBounceIsDropped() {
        #expect(Bounce.envelope(originalSender: "#@[]", doubleBounceTo: "postmaster", me: "mx.test") == nil)
    }

    @Test(arguments: [
        ("Sorry, no mailbox here by that name. (#5.1.1)", "5.1.1"),
        ("message too big (#5.3.4)", "5.3.4"),
        ("550 5.7.1 <x@y>: Relay access denied", "5.7.1"),
        ("Remote host said: 552-5.2.2 mailbox full", "5.2.2"),
        ("temporary trouble (#4.3.0)", "5.0.0"),
        ("no code at all", "5.0.0"),
        ("version 5.1 of something (#5.10.123)", "5.10.123"),
        ("#5.1 is incomplete", "5.0.0"),
        ("1550 5.1.1 is not a reply code", "5.0.0"),
    ])
    func statusComesFromTheDiagnostic(diagnostic: String, status: String) {
        #expect(Bounce.status(from: diagnostic) == status)
    }

    @Test func shortOriginalIsReturnedWhole() {
        let (returned, wasCut) = Bounce.returnedMessage(BounceTests.original)
        #expect(returned == BounceTests.original)
        #expect(!wasCut)
    }

    @Test func longOriginalIsCutAtALineEndWithin50KB() {
        let line = Array(String(repeating: "x", count: 99).utf8) + [0x0A]
        let original = Array("Subject: big\n\n".utf8) + Array([[UInt8]](repeating: line, count: 2000).joined())
        let (returned, wasCut) = Bounce.returnedMessage(original)
        #expect(wasCut)
        #expect(returned.count <= 50 * 1024)
        #expect(returned.count > 50 * 1024 - 100)
        #expect(returned.last == 0x0A)
        #expect(Array(original.prefix(returned.count)) == returned)
    }

    @Test func aHeaderLongerThan50KBIsNeverCut() {
        let field = Array("X-Filler: \(String(repeating: "y", count: 989))\n".utf8)
        let header = Array([[UInt8]](repeating: field, count: 60).joined()) + [0x0A]
        let original = header + Array(String(repeating: "body\n", count: 100).utf8)
        let (returned, wasCut) = Bounce.returnedMessage(original)
        #expect(wasCut)
        #expect(returned == header)
    }

    @Test func reportFields() {
        let text = String(decoding: bounce([
            FailedRecipient(address: "bob@example.net", diagnostic: "550 5.1.1 no such user", remoteHost: "mx.example.net"),
            FailedRecipient(address: "carol@example.org", diagnostic: "Sorry, no mailbox (#5.1.1)\nsecond line"),
        ]), as: UTF8.self)
        for expected in [
            "From: MAILER-DAEMON@mx.example.org\n", "To: alice@example.com\n", "Subject: failure notice\n",
            "Auto-Submitted: auto-replied\n", "MIME-Version: 1.0\n", "Reporting-MTA: dns; mx.example.org\n",
            "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\n", "Final-Recipient: rfc822; bob@example.net\n",
            "Remote-MTA: dns; mx.example.net\n", "Diagnostic-Code: smtp; 550 5.1.1 no such user\n",
            "Final-Recipient: rfc822; carol@example.org\n", "Diagnostic-Code: x-quail; Sorry, no mailbox (#5.1.1) second line\n",
            "<bob@example.net>:\nmx.example.net said: 550 5.1.1 no such user\n",
        ] {
            #expect(text.contains(expected), "missing \(expected)")
        }
        #expect(!text.contains("\r"))
    }

    /// A remote server's reply and an address can carry C0 and C1 controls; the bounce shows them escaped, in
    /// its report fields and in the notice alike, and quoted local parts keep their quotes.
    @Test func controlCharactersFromOutsideAreEscaped() {
        let text = String(decoding: bounce([
            FailedRecipient(address: "\"c d\"@example.net", diagnostic: "550 5.1.1 no\u{9B}2J such\u{1B}[1m user",
                            remoteHost: "mx\u{85}.example.net"),
        ], sender: "\"x y\"@example.com"), as: UTF8.self)
        for expected in [
            "To: \"x y\"@example.com\n", "Final-Recipient: rfc822; \"c d\"@example.net\n", "Remote-MTA: dns; mx\\x85.example.net\n",
            "Diagnostic-Code: smtp; 550 5.1.1 no\\x9b2J such\\x1b[1m user\n",
            "<\"c d\"@example.net>:\nmx\\x85.example.net said: 550 5.1.1 no\\x9b2J such\\x1b[1m user\n",
        ] {
            #expect(text.contains(expected), "missing \(expected)")
        }
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" && $0 != "\t" || (0x7F...0x9F).contains($0.value) })
    }

    @Test func doubleBounceSaysTheBounceBounced() {
        let text = String(decoding: bounce([FailedRecipient(address: "alice@example.com", diagnostic: "gone (#5.1.1)")],
                                           sender: ""), as: UTF8.self)
        #expect(text.contains("but the bounce bounced!"))
        #expect(text.contains("from <>"))
    }

    @Test func pythonReadsItAsADeliveryReport() throws {
        let bytes = bounce([FailedRecipient(address: "bob@example.net", diagnostic: "Sorry, no mailbox here by that name. (#5.1.1)")])
        let script = """
            import email, sys
            m = email.message_from_bytes(sys.stdin.buffer.read())
            assert m.get_content_type() == "multipart/report", m.get_content_type()
            assert m.get_param("report-type") == "delivery-status"
            parts = m.get_payload()
            assert [p.get_content_type() for p in parts] == ["text/plain", "message/delivery-status", "message/rfc822"]
            blocks = parts[1].get_payload()
            assert blocks[0]["Reporting-MTA"] == "dns; mx.example.org"
            assert blocks[1]["Final-Recipient"] == "rfc822; bob@example.net", blocks[1]["Final-Recipient"]
            assert blocks[1]["Status"] == "5.1.1" and blocks[1]["Action"] == "failed"
            returned = parts[2].get_payload()[0]
            assert returned["Subject"] == "The quarterly numbers", returned["Subject"]
            assert "Hello Bob." in returned.get_payload()
            print("ok")
            """
        let (status, output) = try runPython(script, input: bytes)
        #expect(status == 0, "python said: \(output)")
        #expect(output == "ok\n")
    }

    private func runPython(_ script: String, input: [UInt8]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stdout
        try process.run()
        try stdin.fileHandleForWriting.write(contentsOf: Data(input))
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
