import Testing

@testable import QuailCore

@Suite struct LocalRecipientTests {
    @Test func theMaildirIsBelowTheRootLowercased() throws {
        let recipient = try #require(LocalRecipient("First.Last@Example.COM."))
        #expect(recipient.maildirPath(root: "/m") == "/m/example.com/first.last")
        #expect(recipient.original == "First.Last@Example.COM.")
        #expect(recipient.aliasKey == "first.last@example.com")
    }

    @Test(arguments: [
        "a/b@example.com", ".@example.com", "..@example.com", ".hidden@example.com", "../../etc@example.com",
        "user@..", "user@a/b", "user@.example.com", "a\0b@example.com", "bob/\u{301}evil@example.com",
        "a\u{85}b@example.com",
    ])
    func unsafeNamesHaveNoMaildir(address: String) {
        // Either refused outright or given no path: never a directory outside the root.
        #expect(LocalRecipient(address)?.maildirPath(root: "/m") == nil)
    }

    @Test(arguments: ["a..b", "user+tag", "o'neil", "x-y_z", "#"])
    func ordinaryLocalPartsAreSafe(local: String) {
        #expect(LocalRecipient.isSafePathComponent(local))
    }

    @Test(arguments: ["", ".", "..", ".x", "a/b", "/", "a\0b", "a/\u{301}b"])
    func unsafeComponents(component: String) {
        #expect(!LocalRecipient.isSafePathComponent(component))
    }

    @Test(arguments: ["nodomain", "@example.com", "user@", "bob@example.com\nBcc: x@y", "tab\t@example.com"])
    func malformedRecipientsAreRefused(text: String) {
        #expect(LocalRecipient(text) == nil)
    }

    @Test func aliasTargetsWithoutDomainTakeTheRecipientsDomain() throws {
        let recipient = try #require(LocalRecipient("Sales@Example.COM"))
        let targets = recipient.expand(aliasTargets: ["bob", "carol@other.org", "Dave"])
        #expect(targets == ["bob@example.com", "carol@other.org", "Dave@example.com"])
    }
}
