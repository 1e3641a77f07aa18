import Testing

@testable import QuailCore

@Suite struct MessageTextTests {
    @Test(arguments: [
        ("a\r\nb\r\n", "a\nb\n"),
        ("bare\nlf\n", "bare\nlf\n"),
        ("bare\rcr\r\n", "bare\rcr\n"),
        ("ends in cr\r", "ends in cr\r"),
        ("\r\r\n", "\r\n"),
    ])
    func convertsCRLFOnly(input: String, expected: String) {
        #expect(MessageText.unixLineEnds(Array(input.utf8)) == Array(expected.utf8))
    }

    @Test(arguments: [
        ("a\n.\nafter\n", "a\n"),
        (".\n", ""),
        ("a\n.", "a\n"),
        ("a\n..\nb\n", "a\n..\nb\n"),
        ("a\n. \nb\n", "a\n. \nb\n"),
        ("a.\nb\n", "a.\nb\n"),
    ])
    func loneDotEndsInput(input: String, expected: String) {
        #expect(MessageText.truncatedAtLoneDot(Array(input.utf8)) == Array(expected.utf8))
    }
}
