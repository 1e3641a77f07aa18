import Testing

@testable import QuailCore

@Suite struct ControlCharactersTests {
    @Test(arguments: [
        ("plain@example.org", "plain@example.org"),
        ("a\u{1B}[31mb", "a\\x1b[31mb"),
        ("line\nbreak\r\t", "line\\x0abreak\\x0d\\x09"),
        ("del\u{7F}", "del\\x7f"),
        // C1 controls (U+0080–U+009F): U+009B is a CSI to many terminals.
        ("c1\u{85}\u{9B}", "c1\\x85\\x9b"),
        ("caf\u{E9} \u{A0}ok", "caf\u{E9} \u{A0}ok"),
    ])
    func escaped(text: String, expected: String) {
        #expect(ControlCharacters.escaped(text) == expected)
        #expect(ControlCharacters.contains(text) == (text != expected))
    }
}
