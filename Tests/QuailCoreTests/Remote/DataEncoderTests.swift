import Testing

@testable import QuailCore

@Suite struct DataEncoderTests {
    func encode(_ text: String) -> String {
        String(decoding: DataEncoder.encode(Array(text.utf8)), as: UTF8.self)
    }

    @Test(arguments: [
        ("a\nb\n", "a\r\nb\r\n.\r\n"),  // LF → CRLF
        ("a\r\nb\r\n", "a\r\nb\r\n.\r\n"),  // CRLF kept, not doubled
        ("a\rb\n", "a\r\nb\r\n.\r\n"),  // bare CR → CRLF
        ("a\r\r\nb", "a\r\n\r\nb\r\n.\r\n"),  // a CR before CRLF is a line end of its own
        ("a\n\rb", "a\r\n\r\nb\r\n.\r\n"),  // LF then CR: two line ends
        ("no end", "no end\r\n.\r\n"),  // a final CRLF is added
        ("end\r", "end\r\n.\r\n"),  // a trailing bare CR ends the last line
        ("", ".\r\n"),
    ])
    func lineEndsLeaveAsCRLF(input: String, expected: String) {
        #expect(encode(input) == expected)
    }

    @Test(arguments: [
        (".\n", "..\r\n.\r\n"),  // a lone "." is never sent as one
        (".leading\n", "..leading\r\n.\r\n"),
        ("a\n.b\n..c\n", "a\r\n..b\r\n...c\r\n.\r\n"),
        ("a.b\n", "a.b\r\n.\r\n"),  // only the first character of a line counts
        ("x\r.\r\n", "x\r\n..\r\n.\r\n"),  // stuffed after normalising: the bare CR made "." start a line
        ("x\n.\ny", "x\r\n..\r\ny\r\n.\r\n"),
    ])
    func dotsAreStuffedAfterNormalising(input: String, expected: String) {
        #expect(encode(input) == expected)
    }

    @Test func noBareCROrLFEverLeaves() {
        let nasty = Array("a\r.\rb\n.\n\r\r\n\n.\r\r.\n".utf8) + [0x0D]
        let out = DataEncoder.encode(nasty)
        for (index, byte) in out.enumerated() {
            if byte == 0x0D { #expect(index + 1 < out.count && out[index + 1] == 0x0A) }
            if byte == 0x0A { #expect(index > 0 && out[index - 1] == 0x0D) }
        }
        // Exactly one end-of-data sequence, at the very end.
        let text = String(decoding: out, as: UTF8.self)
        #expect(text.hasSuffix("\r\n.\r\n"))
        #expect(text.components(separatedBy: "\r\n.\r\n").count == 2)
    }
}
