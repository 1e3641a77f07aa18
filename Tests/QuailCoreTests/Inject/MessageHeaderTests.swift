import Testing

@testable import QuailCore

@Suite struct MessageHeaderTests {
    private func parse(_ text: String) -> (header: MessageHeader, body: String) {
        let (header, body) = MessageHeader.parse(Array(text.utf8))
        return (header, String(decoding: body, as: UTF8.self))
    }

    @Test func splitsAtTheFirstEmptyLine() {
        let (header, body) = parse("Subject: hi\nTo: a@b\n\nbody line\n\nmore\n")
        #expect(header.fields.map(\.name) == ["Subject", "To"])
        #expect(body == "body line\n\nmore\n")
    }

    @Test func foldsContinuationLinesForReadingButKeepsThemRaw() {
        let (header, _) = parse("To: a@example.com,\n\tb@example.com\nSubject: x\n\n")
        #expect(header.values("to") == ["a@example.com,\tb@example.com"])
        #expect(String(decoding: header.fields[0].raw, as: UTF8.self) == "To: a@example.com,\n\tb@example.com\n")
    }

    @Test func aNonHeaderLineStartsTheBody() {
        let (header, body) = parse("Subject: x\nthis is not a header\nsecond\n")
        #expect(header.fields.count == 1)
        #expect(body == "this is not a header\nsecond\n")
        #expect(String(decoding: header.bytes(body: Array(body.utf8)[...]), as: UTF8.self)
            == "Subject: x\n\nthis is not a header\nsecond\n")
    }

    @Test func noHeaderAtAll() {
        let (header, body) = parse("hello world\n")
        #expect(header.fields.isEmpty)
        #expect(body == "hello world\n")
    }

    @Test func headerWithoutBodyOrFinalLineEnd() {
        let (header, body) = parse("Subject: x")
        #expect(header.values("Subject") == ["x"])
        #expect(body.isEmpty)
        #expect(String(decoding: header.bytes(body: []), as: UTF8.self) == "Subject: x\n\n")
    }

    @Test func dropsAnMboxFromLine() {
        let (header, _) = parse("From alice Mon Jan  1 00:00:00 2024\nSubject: x\n\n")
        #expect(header.fields.map(\.name) == ["Subject"])
    }

    @Test func acceptsObsoleteSpaceBeforeColonAndRemovesCaseInsensitively() {
        var (header, _) = parse("Subject : x\nBCC: secret@b\nbcc: other@b\n\n")
        #expect(header.values("subject") == ["x"])
        header.remove("Bcc")
        #expect(header.fields.map(\.name) == ["Subject"])
    }
}
