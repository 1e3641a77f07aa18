import Testing

@testable import QuailCore

@Suite struct InjectionTests {
    private let identity = InjectIdentity(user: "alice", host: "host.test")

    private func build(_ text: String, _ options: InjectOptions = InjectOptions()) throws -> (message: String, envelope: Envelope) {
        let injection = Injection(options: options, identity: identity, now: 1_700_000_000, messageID: "<1.2.3@host.test>")
        let (message, envelope) = try injection.build(Array(text.utf8))
        return (String(decoding: message, as: UTF8.self), envelope)
    }

    @Test func addsWhatIsMissing() throws {
        let (message, envelope) = try build("Subject: hi\n\nbody\n", InjectOptions(recipients: ["bob@example.com"]))
        #expect(message == """
            Subject: hi
            Date: Tue, 14 Nov 2023 22:13:20 +0000
            Message-ID: <1.2.3@host.test>
            From: alice@host.test

            body

            """)
        #expect(envelope == Envelope(sender: "alice@host.test", recipients: ["bob@example.com"]))
    }

    @Test func keepsWhatIsThere() throws {
        let text = "From: Me <me@example.com>\ndate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-Id: <x@y>\nTo: bob@example.com\n\nbody\n"
        let (message, _) = try build(text)
        #expect(message == text)
    }

    @Test func fullNameGoesIntoFrom() throws {
        let (message, _) = try build("\nbody\n", InjectOptions(fullName: "Alice A. Example", recipients: ["b@c"]))
        #expect(message.contains("From: \"Alice A. Example\" <alice@host.test>\n"))
        let (plain, _) = try build("\n", InjectOptions(fullName: "Alice Example", recipients: ["b@c"]))
        #expect(plain.contains("From: Alice Example <alice@host.test>\n"))
        let (encoded, _) = try build("\n", InjectOptions(fullName: "Zoë", recipients: ["b@c"]))
        #expect(encoded.contains("From: =?UTF-8?B?Wm/Dqw==?= <alice@host.test>\n"))
    }

    @Test func recipientsFromTheHeaderWhenNoneAreGiven() throws {
        let text = "To: Bob <bob@example.com>, carol\nCc: \"Doe, D\" <d@example.org>\nBcc: secret@example.net\nSubject: s\n\nbody\n"
        let (message, envelope) = try build(text)
        #expect(envelope.recipients == ["bob@example.com", "carol@host.test", "d@example.org", "secret@example.net"])
        #expect(!message.contains("Bcc"))
        #expect(!message.contains("secret"))
        #expect(message.hasPrefix("To: Bob <bob@example.com>, carol\nCc: \"Doe, D\" <d@example.org>\nSubject: s\n"))
    }

    @Test func argumentsWinOverTheHeaderWithoutDashT() throws {
        let text = "To: bob@example.com\nBcc: hidden@example.net\n\n"
        let (message, envelope) = try build(text, InjectOptions(recipients: ["zed@example.com"]))
        #expect(envelope.recipients == ["zed@example.com"])
        #expect(!message.contains("hidden"))
    }

    @Test func dashTAddsTheHeaderRecipients() throws {
        let text = "To: bob@example.com\nCc: zed@example.com\n\n"
        let options = InjectOptions(recipients: ["zed@example.com", "amy"], recipientsFromHeader: true)
        let (_, envelope) = try build(text, options)
        #expect(envelope.recipients == ["zed@example.com", "amy@host.test", "bob@example.com"])
    }

    @Test func noRecipientsIsPermanent() {
        #expect(throws: InjectError.noRecipients) { try build("To: undisclosed-recipients:;\n\nbody\n") }
        #expect(throws: InjectError.noRecipients) { try build("Subject: nobody\n\n", InjectOptions(recipientsFromHeader: true)) }
    }

    @Test(arguments: [
        (String?.none, "alice@host.test"),
        ("bob@example.com", "bob@example.com"),
        ("bob", "bob@host.test"),
        ("<>", ""),
        ("", ""),
        ("Bob <bob@example.com>", "bob@example.com"),
    ])
    func envelopeSender(given: String?, expected: String) throws {
        let (_, envelope) = try build("\n", InjectOptions(sender: given, recipients: ["x@y"]))
        #expect(envelope.sender == expected)
    }

    @Test func crlfBecomesLFAndTheLoneDotRuleIsOptional() throws {
        let input = "Subject: x\r\nTo: a@b\r\n\r\nline\r\n.\r\nafter\n"
        let (withDot, _) = try build(input, InjectOptions(dotEndsInput: true))
        #expect(withDot.hasSuffix("\n\nline\n"))
        let (withoutDot, _) = try build(input)
        #expect(withoutDot.hasSuffix("\n\nline\n.\nafter\n"))
        #expect(!withoutDot.contains("\r"))
    }

    @Test func identityDefaults() throws {
        let environment: [String: String] = ["USER": "u", "LOGNAME": "l", "QUAILHOST": ""]
        let unreadable = { () throws(ControlError) -> String in throw .unreadable(file: "me", errno: .permissionDenied) }
        let fromUser = try InjectIdentity.resolve(environment: { environment[$0] }, me: { "me.test" })
        #expect(fromUser == InjectIdentity(user: "u", host: "me.test"))
        let quailEnvironment = ["QUAILUSER": "q", "QUAILHOST": "qh.test", "USER": "u"]
        let quail = try InjectIdentity.resolve(environment: { quailEnvironment[$0] }, me: unreadable)
        #expect(quail == InjectIdentity(user: "q", host: "qh.test"))
        let root = try InjectIdentity.resolve(environment: { _ in nil }, me: { "m" })
        #expect(root.user == "root")
        #expect(throws: ControlError.self) {
            try InjectIdentity.resolve(environment: { _ in nil }, me: unreadable)
        }
    }

    @Test func generatedMessageIDsAreUnique() {
        let first = MessageID.make(host: "h.test", now: 5)
        #expect(first.hasPrefix("<5.") && first.hasSuffix("@h.test>"))
        #expect(first != MessageID.make(host: "h.test", now: 5))
    }
}
