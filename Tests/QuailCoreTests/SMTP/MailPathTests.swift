import Testing

@testable import QuailCore

/// The address of MAIL and RCPT keeps its RFC 5321 form: a quoted local part stays quoted, with whatever it
/// holds inside the quotes, and a control character is a syntax error.
@Suite struct MailPathTests {
    @Test(arguments: [
        ("<\"c d\"@example.org>", "\"c d\"@example.org"),
        ("<\"a> RET=FULL ENVID=zz\"@evil.test>", "\"a> RET=FULL ENVID=zz\"@evil.test"),
        ("<\"a\\\"b\\\\c\"@example.org>", "\"a\\\"b\\\\c\"@example.org"),
        ("<\"user@other.test\"@partner.test>", "\"user@other.test\"@partner.test"),
        // Quotes that hold a Dot-string are not needed; the unquoted form is the same mailbox.
        ("<\"bob\"@example.org>", "bob@example.org"),
        ("<\"b\\ob\"@example.org>", "bob@example.org"),
        ("<@relay.test:\"c d\"@example.org>", "\"c d\"@example.org"),
        // What is no Dot-string unquoted is quoted on the way in, so it cannot go out as two words.
        ("<.hidden@example.org>", "\".hidden\"@example.org"),
        ("<a..b@example.org>", "\"a..b\"@example.org"),
        ("<plain.user+tag@example.org>", "plain.user+tag@example.org"),
        ("<>", ""),
        ("<postmaster>", "postmaster"),
    ])
    func keepsTheRFC5321Form(argument: String, address: String) {
        #expect(MailPath(argument)?.address == address)
        #expect(MailPath(argument)?.parameters.isEmpty == true)
    }

    @Test func parametersAfterAQuotedPathStayParameters() {
        let path = MailPath("<\"a> b\"@example.org> SIZE=10")
        #expect(path?.address == "\"a> b\"@example.org")
        #expect(path?.parameters == ["SIZE": "10"])
    }

    @Test(arguments: [
        "<a\u{1B}[2Jb@example.org>", "<\"a\u{1B}b\"@example.org>", "<a@exa\u{7F}mple.org>", "<\"a\tb\"@example.org>",
        "<a\u{85}b@example.org>", "<a@example.org\u{9B}>",
        // Outside quotes a space, a quote or a second `@` after the local part is no mailbox.
        "<\"a\"@exa mple.org>", "<\"a\"@b@example.org>", "<a\"b@example.org>", "<\"a\"@>",
    ])
    func refused(argument: String) {
        #expect(MailPath(argument) == nil)
    }
}
