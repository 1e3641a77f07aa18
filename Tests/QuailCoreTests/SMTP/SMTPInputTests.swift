import Foundation
import Glibc
import Testing

@testable import QuailCore

/// The session's buffered reader: lines come back whole and in order however the reads split them, an overlong
/// line is dropped as it arrives, and the buffer does not grow with the input.
@Suite struct SMTPInputTests {
    /// `bytes` in a file, read to its end (more than a pipe holds).
    func reading(_ bytes: [UInt8], _ body: (inout SMTPInput) -> Void) throws {
        let path = try makeScratchDirectory() + "/input"
        let written = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try FileIO.writeAll(written, bytes)
        close(written)
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var input = SMTPInput(fd: fd)
        body(&input)
    }

    @Test func pipelinedLinesAcrossManyReadsComeBackInOrder() throws {
        // 50 KiB of commands: reads end in the middle of lines, and the buffer's unread tail is moved down.
        var lines = (0..<4000).map { "NOOP \(String(repeating: "x", count: $0 % 37)) \($0)" }
        lines.insert(String(repeating: "L", count: 2000), at: 1500)
        let bytes = Array(lines.map { $0 + "\r\n" }.joined().utf8)
        #expect(bytes.count > 3 * SMTPInput.readSize)
        try reading(bytes) { input in
            for (number, line) in lines.enumerated() {
                let result = input.readLine(limit: SMTPServer.commandLineLimit, deadline: MailDate.now() + 10)
                if number == 1500 {
                    #expect(result == .tooLong)
                } else {
                    #expect(result == .line(Array(line.utf8)), "line \(number)")
                }
            }
            #expect(input.readLine(limit: SMTPServer.commandLineLimit, deadline: MailDate.now() + 10) == .endOfInput)
            // Unread bytes were moved down for the next read, not appended to: the buffer kept its size.
            #expect(input.capacity == SMTPInput.readSize, "\(input.capacity)")
        }
    }

    @Test func linesWrittenInSmallPiecesComeBackWhole() throws {
        let pair = try FileIO.makeSocketPair()
        defer { close(pair.read) }
        let lines = (0..<300).map { "RCPT TO:<user\($0)@partner.test>" }
        let bytes = Array(lines.map { $0 + "\r\n" }.joined().utf8)
        // Pieces of 1 to 13 bytes, each its own write: reads end inside lines, at index 0 of the buffer too.
        let writer = Thread {
            var offset = 0
            while offset < bytes.count {
                let size = min(1 + offset % 13, bytes.count - offset)
                _ = bytes[offset..<offset + size].withUnsafeBytes { write(pair.write, $0.baseAddress, $0.count) }
                offset += size
            }
            close(pair.write)
        }
        writer.start()
        var input = SMTPInput(fd: pair.read)
        for line in lines {
            #expect(input.readLine(limit: SMTPServer.commandLineLimit, deadline: MailDate.now() + 10) == .line(Array(line.utf8)))
        }
        #expect(input.readLine(limit: SMTPServer.commandLineLimit, deadline: MailDate.now() + 10) == .endOfInput)
    }

    @Test func aHundredKilobyteLineIsDroppedWithoutBeingHeld() throws {
        let bytes = Array((String(repeating: "A", count: 100_000) + "\r\nQUIT\r\n").utf8)
        try reading(bytes) { input in
            #expect(input.readLine(limit: 512, deadline: MailDate.now() + 10) == .tooLong)
            #expect(input.capacity <= 2 * SMTPInput.readSize, "\(input.capacity)")
            #expect(input.readLine(limit: 512, deadline: MailDate.now() + 10) == .line(Array("QUIT".utf8)))
        }
    }

    @Test func dataIsTakenFromUnreadAndTheCommandAfterItStaysBuffered() throws {
        let body = String(repeating: "a line of a message\r\n", count: 3000)
        let bytes = Array(("DATA\r\n" + body + ".\r\nQUIT\r\n").utf8)
        try reading(bytes) { input in
            #expect(input.readLine(limit: 512, deadline: MailDate.now() + 10) == .line(Array("DATA".utf8)))
            var taken: [UInt8] = []
            let terminator = Array(".\r\n".utf8)
            while !(taken.count >= body.utf8.count + 3 && Array(taken.suffix(3)) == terminator) {
                let wanted = min(input.unread.count, body.utf8.count + 3 - taken.count)
                taken += input.unread.prefix(wanted)
                input.consume(wanted)
                if taken.count < body.utf8.count + 3 {
                    guard input.fill(deadline: MailDate.now() + 10) == .line([]) else { break }
                }
            }
            #expect(taken == Array((body + ".\r\n").utf8))
            #expect(input.hasCompleteLine)
            #expect(input.readLine(limit: 512, deadline: MailDate.now() + 10) == .line(Array("QUIT".utf8)))
            #expect(input.capacity <= 2 * SMTPInput.readSize, "\(input.capacity)")
        }
    }
}
