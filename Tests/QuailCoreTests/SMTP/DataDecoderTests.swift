import Testing

@testable import QuailCore

@Suite struct DataDecoderTests {
    /// Feeds `text` in chunks of `chunk` bytes; returns the outcome and the decoded message.
    func decode(_ text: [UInt8], limit: Int = 0, chunk: Int = 7) -> (DataDecoder.Outcome, String, DataDecoder) {
        var decoder = DataDecoder(byteLimit: limit)
        var output: [UInt8] = []
        var offset = 0
        while offset < text.count {
            let end = min(offset + chunk, text.count)
            let outcome = decoder.feed(text[offset..<end])
            output += decoder.takeOutput()
            switch outcome {
            case .needMore: offset = end
            case .finished(let consumed): return (.finished(consumed: offset + consumed), String(decoding: output, as: UTF8.self), decoder)
            case .bareLineEnding: return (.bareLineEnding, String(decoding: output, as: UTF8.self), decoder)
            }
        }
        return (.needMore, String(decoding: output, as: UTF8.self), decoder)
    }

    @Test(arguments: [1, 2, 7, 1000])
    func unstuffsDotsAndEndsAtTheLoneDot(chunk: Int) {
        let wire = Array("Subject: x\r\n\r\n..leading\r\n.\r\n".utf8) + Array("MAIL FROM:<next>\r\n".utf8)
        let (outcome, message, _) = decode(wire, chunk: chunk)
        #expect(outcome == .finished(consumed: 28))
        #expect(message == "Subject: x\n\n.leading\n")
    }

    static let smuggling: [String] = ["a\n.\nMAIL", "a\r.\rMAIL", "a\n.\r\nMAIL", "a\r.\r\nMAIL", "a\r\n.\nMAIL", "a\r\n\u{0}.\r\n", "a\r\n.\rX"]

    @Test(arguments: smuggling)
    func bareLineEndingsAreRefusedNeverAnEnd(_ text: String) {
        let (outcome, _, _) = decode(Array(text.utf8) + Array("\r\n.\r\n".utf8))
        if text.contains("\u{0}") {
            // A NUL is no line ending: the message goes on to the real end, and is refused there.
            #expect(outcome == .finished(consumed: text.utf8.count + 5))
        } else {
            #expect(outcome == .bareLineEnding)
        }
    }

    @Test func notesOverlongLinesButKeepsReading() {
        let long = String(repeating: "x", count: 999)
        let (outcome, _, decoder) = decode(Array("ok\r\n\(long)\r\n.\r\n".utf8))
        #expect(outcome == .finished(consumed: 4 + 1001 + 3))
        #expect(decoder.lineTooLong)
        let (_, _, fits) = decode(Array("\(String(repeating: "x", count: 998))\r\n.\r\n".utf8))
        #expect(!fits.lineTooLong)
    }

    /// RFC 5321 §4.5.3.1.6: a 998-octet line that begins with a dot goes on the wire as 999 octets and CRLF, and
    /// fits, because the dot added for transparency is not counted; one octet more does not fit.
    @Test(arguments: [1, 7, 1000])
    func transparencyDotIsNotCounted(chunk: Int) {
        let line = "." + String(repeating: "x", count: 997)
        let (outcome, message, fits) = decode(Array(".\(line)\r\n.\r\n".utf8), chunk: chunk)
        #expect(outcome == .finished(consumed: 1001 + 3))
        #expect(!fits.lineTooLong)
        #expect(message == line + "\n")
        let (_, _, over) = decode(Array(".\(line)x\r\n.\r\n".utf8), chunk: chunk)
        #expect(over.lineTooLong)
    }

    /// A NUL anywhere is noted, at the start of a line or in its middle, whatever the reads.
    @Test(arguments: [1, 7, 1000])
    func notesANulByte(chunk: Int) {
        for text in ["\u{0}.\r\n", "ab\u{0}c\r\n", "abc\u{0}\r\n", ".\u{0}\r\n", "Subject: x\r\n\r\n\u{0}"] {
            let (outcome, _, decoder) = decode(Array("\(text)\r\n.\r\n".utf8), chunk: chunk)
            #expect(outcome == .finished(consumed: text.utf8.count + 5), "\(text.debugDescription)")
            #expect(decoder.nulByte, "\(text.debugDescription)")
        }
        let (_, _, clean) = decode(Array("Subject: x\r\n\r\n.body\r\n.\r\n".utf8), chunk: chunk)
        #expect(!clean.nulByte)
    }

    @Test func stopsStoringPastTheLimit() {
        let (outcome, message, decoder) = decode(Array("0123456789\r\n0123456789\r\n.\r\n".utf8), limit: 15)
        #expect(outcome == .finished(consumed: 27))
        #expect(decoder.tooBig)
        #expect(message.count <= 15)
    }

    @Test func countsReceivedLinesInTheHeaderOnly() {
        let header = String(repeating: "Received: from x\r\n", count: 3) + "RECEIVED: y\r\nX-Received: no\r\n"
        let (_, _, decoder) = decode(Array((header + "\r\nReceived: in the body\r\n.\r\n").utf8))
        #expect(decoder.receivedLines == 4)
    }

    /// The middle of a line is copied in runs: fed whole or one byte at a time, the result is the same, wherever
    /// the limit, a leading dot or the Received: prefix falls; and, without a limit, it is the message expected.
    @Test(arguments: [0, 5, 14, 15, 16, 40])
    func runsGiveTheSameResultWhateverTheReads(limit: Int) {
        let wire = Array("Received: from a run\r\nReceiv\r\n.x.y\r\n..\r\n\r\nbody, one run\r\n.z\r\n.\r\nNEXT".utf8)
        let (outcome, message, decoder) = decode(wire, limit: limit, chunk: 1000)
        let (bytewise, expected, reference) = decode(wire, limit: limit, chunk: 1)
        #expect(outcome == bytewise)
        #expect(outcome == .finished(consumed: wire.count - 4))
        #expect(message == expected)
        #expect(decoder.messageBytes == reference.messageBytes)
        #expect(decoder.tooBig == reference.tooBig)
        #expect(decoder.receivedLines == 1 && reference.receivedLines == 1)
        if limit == 0 {
            #expect(message == "Received: from a run\nReceiv\nx.y\n.\n\nbody, one run\nz\n")
        } else {
            #expect(message.utf8.count == min(limit, decoder.messageBytes))
        }
    }
}

