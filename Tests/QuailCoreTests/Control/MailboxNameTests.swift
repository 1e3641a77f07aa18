import Testing

@testable import QuailCore

@Suite struct MailboxNameTests {
    static let bad: [(String, MailboxName.Problem)] = [
        ("", .empty),
        ("a/b", .slash),
        // One Character ("/" with a combining acute), yet a "/" byte to the file system.
        ("bob/\u{301}evil", .slash),
        (".hidden", .leadingDot),
        ("..", .leadingDot),
        ("a\u{0}b", .controlCharacter),
        ("tab\there", .controlCharacter),
        ("del\u{7F}", .controlCharacter),
        ("next\u{85}line", .controlCharacter),
        ("csi\u{9B}", .controlCharacter),
        (String(repeating: "x", count: 65), .tooLong(limit: 64)),
        // 33 Characters, 66 octets: the limit is on the UTF-8 bytes (RFC 5321 4.5.3.1.1).
        (String(repeating: "é", count: 33), .tooLong(limit: 64)),
    ]

    @Test(arguments: bad)
    func badLocalPartsAreNamed(localPart: String, problem: MailboxName.Problem) {
        #expect(MailboxName.problem(localPart: localPart) == problem)
    }

    @Test(arguments: [
        "bob", "first.last", "a..b", "user+tag", "o'neil", "#", "\"c d\"", "jörg", "δοκιμή",
        String(repeating: "x", count: 64), String(repeating: "é", count: 32), "nbsp\u{A0}",
    ])
    func ordinaryLocalPartsPass(localPart: String) {
        #expect(MailboxName.problem(localPart: localPart) == nil)
    }

    @Test func aDomainDirectoryMayBeLongerThanALocalPart() {
        let name = String(repeating: "d", count: 200)
        #expect(MailboxName.problem(name, limit: MailboxName.maximumComponentOctets) == nil)
        #expect(MailboxName.problem(name + String(repeating: "d", count: 56), limit: 255) == .tooLong(limit: 255))
    }
}
