import Testing

@testable import QuailCore

@Suite struct ReplyParserTests {
    func replies(_ chunks: [String]) throws -> [ServerReply] {
        var parser = ReplyParser()
        var found: [ServerReply] = []
        for chunk in chunks {
            parser.append(Array(chunk.utf8))
            while let reply = try parser.next() { found.append(reply) }
        }
        return found
    }

    @Test func singleAndMultiLineReplies() throws {
        let found = try replies(["220 mx.test ESMTP\r\n250-mx.test hello\r\n250-SIZE 1000\r\n250-PIPELINING\r\n250 8BITMIME\r\n"])
        #expect(found.count == 2)
        #expect(found[0] == ServerReply(code: 220, lines: ["mx.test ESMTP"]))
        #expect(found[1].code == 250)
        #expect(found[1].extensions == ["SIZE", "PIPELINING", "8BITMIME"])
        #expect(found[1].description == "250 mx.test hello SIZE 1000 PIPELINING 8BITMIME")
    }

    @Test func repliesSplitAcrossReadsAndBareLF() throws {
        let found = try replies(["55", "0-5.1.1 no such\r", "\n550 5.1.1 user\n", "354", "\r\n"])
        #expect(found == [ServerReply(code: 550, lines: ["5.1.1 no such", "5.1.1 user"]), ServerReply(code: 354, lines: [""])])
        #expect(found[0].description == "550 5.1.1 no such 5.1.1 user")
    }

    @Test func resultsByCode() {
        #expect(ServerReply(code: 250, lines: ["ok"]).result() == .delivered("250 ok"))
        #expect(ServerReply(code: 451, lines: ["later"]).result() == .deferred("451 later"))
        #expect(ServerReply(code: 554, lines: ["no"]).result() == .failed("554 no"))
    }

    @Test func controlCharactersCannotReachTheReport() throws {
        let found = try replies(["250 ok\u{1B}[2J\r\n"])
        #expect(found[0].lines == ["ok?[2J"])
    }

    @Test(arguments: ["hello\r\n", "25 x\r\n", "250x\r\n", "2a0 x\r\n"])
    func malformedLinesAreErrors(_ line: String) {
        #expect(throws: ReplyParseError.self) { try replies([line]) }
    }

    @Test func aContinuationWithAnotherCodeIsAnError() {
        #expect(throws: ReplyParseError.codeChanged(from: 250, to: 251)) { try replies(["250-a\r\n251 b\r\n"]) }
    }

    /// A server streaming continuation lines: the parser takes `lineLimit` of them and no more, however short.
    @Test func aFloodOfContinuationLinesStopsAtTheLineLimit() {
        var parser = ReplyParser()
        var taken = 0
        var failure: ReplyParseError?
        for _ in 0..<60_000 {
            parser.append(Array("220-\r\n".utf8))
            taken += 1
            do { _ = try parser.next() } catch {
                failure = error
                break
            }
        }
        #expect(failure == .tooManyLines)
        #expect(taken == ReplyParser.lineLimit)
    }

    @Test func aReplyOfExactlyTheLineLimitIsRead() throws {
        let found = try replies([String(repeating: "250-x\r\n", count: ReplyParser.lineLimit - 1) + "250 end\r\n"])
        #expect(found.count == 1 && found[0].lines.count == ReplyParser.lineLimit)
    }

    /// Every line's bytes count toward the limit, with its code and CRLF: 128 lines of 512 octets fill it.
    @Test func theByteLimitCountsWholeLines() throws {
        let full = "250-" + String(repeating: "x", count: 506) + "\r\n"
        let last = "250 " + String(repeating: "x", count: 506) + "\r\n"
        #expect(try replies([String(repeating: full, count: 127) + last]).count == 1)
        #expect(throws: ReplyParseError.tooLong) { try replies([String(repeating: full, count: 128) + "250 x\r\n"]) }
    }

    @Test func manyRepliesInOneReadAreAllFound() throws {
        let found = try replies([String(repeating: "250-a\r\n250 b\r\n", count: 2000)])
        #expect(found.count == 2000 && found.allSatisfy { $0.lines == ["a", "b"] })
    }

    @Test func endlessRepliesAreCutOff() {
        let line = "250-" + String(repeating: "x", count: 1000) + "\r\n"
        #expect(throws: ReplyParseError.tooLong) { try replies(Array(repeating: line, count: 100)) }
    }
}
