import Testing

@testable import QuailCore

@Suite struct AddressQuotingTests {
    @Test(arguments: [
        ("c d@example.org", "\"c d\"@example.org"),
        ("\"c d\"@example.org", "\"c d\"@example.org"),
        // An address spooled without its quotes still goes out as one mailbox, never as path plus parameters.
        ("a> RET=FULL ENVID=zz@evil.test", "\"a> RET=FULL ENVID=zz\"@evil.test"),
        ("a@b@example.org", "\"a@b\"@example.org"),
        ("say \"hi\"\\@example.org", "\"say \\\"hi\\\"\\\\\"@example.org"),
        ("user@example.org.", "user@example.org"),
        ("user@[127.0.0.1]", "user@[127.0.0.1]"),
        ("jos\u{E9}@b\u{FC}cher.example", "jos\u{E9}@b\u{FC}cher.example"),
    ])
    func mailboxText(address: String, expected: String) {
        #expect(Address.mailboxText(address) == expected)
    }

    @Test(arguments: [
        "user", "user@", "user@exa mple.org", "user@example..org", "user@ex>ample.org", "user@[1.2.3.4",
        "a\u{1B}b@example.org", "a\r\nRCPT TO:<evil@example.org>@example.org", "a@example.org\u{85}",
    ])
    func noMailboxCanBeMadeOf(address: String) {
        #expect(Address.mailboxText(address) == nil)
    }

    @Test func theContentIsWhatTheQuotesHold() {
        #expect(Address("\"a@b\"@example.org")?.localPartContent == "a@b")
        #expect(Address("\"a\\\"b\"@example.org")?.localPartContent == "a\"b")
        #expect(Address("plain@example.org")?.localPartContent == "plain")
    }
}
