import Testing

@testable import QuailCore

/// A server's text is kept in the state record (and from there in bounces) up to a bound.
@Suite struct MessageStateErrorTextTests {
    @Test func shortTextsAreKeptWhole() {
        let text = String(repeating: "x", count: MessageState.Recipient.errorLimit)
        #expect(MessageState.Recipient.storedError(text) == text)
    }

    @Test(arguments: ["x", "é", "€", "😀"])
    func longTextsAreCutBetweenCharacters(_ character: String) {
        let text = "550 " + String(repeating: character, count: 3000)
        let stored = MessageState.Recipient.storedError(text)
        #expect(stored.utf8.count <= MessageState.Recipient.errorLimit)
        #expect(stored.utf8.count > MessageState.Recipient.errorLimit - 3 - 4)
        #expect(stored.hasPrefix("550 " + character) && stored.hasSuffix(character + "..."))
    }
}
