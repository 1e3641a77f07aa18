import Foundation
import Glibc
import QuailCore
import Testing

/// SMTP smuggling, both ways (issue 6). Inbound: the end-of-DATA look-alikes SMTPHostileTests does not already
/// send, each followed by a whole smuggled transaction, leave no smuggled message in the queue. Outbound:
/// messages injected locally with bare CR, bare LF, lone dots and leading dots leave quail, through quail-send
/// and quail-remote, as CRLF-only, correctly dot-stuffed DATA, one message per injection, equal to what was
/// injected once un-stuffed — captured byte for byte by a raw recording server.
struct SmugglingTests {
    /// The variants of the issue's list that SMTPHostileTests.SmugglingEnding does not cover.
    enum Ending: String, Sendable, CaseIterable, CustomTestStringConvertible {
        case lfDotCR = "\n.\r"
        case crDotLF = "\r.\n"
        case crlfNulDotCRLF = "\r\n\u{0}.\r\n"
        var testDescription: String { rawValue.debugDescription }
        /// Whether the ending holds a bare CR or LF, which quail-smtpd answers with 550 5.5.2 and a close.
        var isBare: Bool { self != .crlfNulDotCRLF }
    }

    static let smuggled = "MAIL FROM:<smuggler@evil.test>\r\nRCPT TO:<victim@partner.test>\r\nDATA\r\n"
        + "Subject: SMUGGLED-MARKER\r\n\r\nevil\r\n.\r\n"

    @Test(arguments: Ending.allCases, SMTPMode.allCases)
    func inboundSmugglingQueuesNothingSmuggled(ending: Ending, mode: SMTPMode) throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home, mode: mode)
        let client = try server.connect()
        try client.hello()
        try client.beginData(from: "first@client.test", to: "user@partner.test")
        // One write, as the attack sends it: a fake end of DATA, then a whole second transaction.
        client.send("Subject: first\r\n\r\nhello" + ending.rawValue + Self.smuggled + "QUIT\r\n")
        let replies = client.drainReplies(quiet: 3)
        if ending.isBare {
            #expect(replies.first?.code == 550 && replies.first?.enhanced == "5.5.2", "\(replies)")
            #expect(replies.count == 1, "nothing after the 550: \(replies)")
            #expect(client.waitForClose(5) != nil)
        } else {
            // CRLF NUL . CRLF ends nothing: DATA goes on to the real CRLF . CRLF, and the message is refused there
            // for its NUL (DESIGN.md), so a next hop that strips NULs never sees it.
            #expect(replies.first?.code == 554 && replies.first?.enhanced?.hasPrefix("5.") == true, "\(replies)")
            #expect(!replies.contains { $0.code == 250 }, "nothing accepted: \(replies)")
        }
        try expectNothingSmuggled(home, allowed: 0)
    }

    @Test(arguments: Ending.allCases)
    func inboundSmugglingSplitOverWrites(ending: Ending) throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.hello()
        try client.beginData(from: "first@client.test", to: "user@partner.test")
        for piece in ["Subject: first\r\n\r\nhello", ending.rawValue, Self.smuggled, "QUIT\r\n"] {
            client.send(piece)
            usleep(50_000)
        }
        let replies = client.drainReplies(quiet: 2)
        #expect(replies.first?.code == (ending.isBare ? 550 : 554), "\(replies)")
        try expectNothingSmuggled(home, allowed: 0)
    }

    /// The queue holds at most `allowed` messages (by quail-qstat and by todo/), and none of them is the
    /// smuggled one: every message is the first sender's, to the first recipient only.
    func expectNothingSmuggled(_ home: TestHome, allowed: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let counts = try home.queueCounts()
        #expect(counts.messages <= allowed && counts.messages == home.todoCount(), "quail-qstat: \(counts)",
                sourceLocation: sourceLocation)
        let queued = home.queuedMessages()
        #expect(queued.count <= allowed, sourceLocation: sourceLocation)
        for message in queued {
            #expect(message.sender == "first@client.test", sourceLocation: sourceLocation)
            #expect(message.recipients == ["user@partner.test"], sourceLocation: sourceLocation)
            #expect(message.originalText.hasPrefix("Subject: first\n"), "\(message.text)", sourceLocation: sourceLocation)
        }
    }

    // MARK: - Outbound

    /// Message bodies as a local user might pipe them into quail-inject: Unix text, and worse.
    static let outboundBodies: [String] = [
        ".\n..\n.leading dot\n...three dots\nend\n",
        "line one\rline two\r.\rafter a CR-dot-CR\n",
        "windows line\r\n.\r\nafter CRLF . CRLF\r\n",
        "hello\n.\nMAIL FROM:<smuggler@evil.test>\nRCPT TO:<victim@partner.test>\nDATA\nevil\n.\n",
        "bare CR then dot\r.\nbare LF\n.\r\nlast line without a line end, then a dot\n.",
        "\r\n\r.\r\r\n.\n\n.",
    ]

    @Test func outboundDataIsCRLFOnlyAndDotStuffed() throws {
        let primary = try RawRecordingServer(host: "127.0.113.2")
        let home = try TestHome()
        home.control("smtproutes", "partner.test:[127.0.113.2]:\(primary.port)")
        let send = try home.startSend()
        defer { send.stop() }
        for (number, body) in Self.outboundBodies.enumerated() {
            let outcome = try home.inject("Subject: outbound \(number)\n\n" + body, to: ["user\(number)@partner.test"], from: "a@quail.test")
            #expect(outcome.status == 0, "\(outcome.stderr)")
        }
        let count = Self.outboundBodies.count
        #expect(waitUntil(60) { primary.messages().count >= count }, "\(primary.messages().count) of \(count)\n\(send.log.suffix(2000))")
        #expect(waitUntil(20) { home.queueIsEmpty() }, "\(send.log.suffix(2000))")
        let received = primary.messages()
        #expect(received.count == count, "exactly one message per injection: \(received.map(\.recipients))")
        for (number, body) in Self.outboundBodies.enumerated() {
            let matching = received.filter { $0.recipients == ["<user\(number)@partner.test>"] }
            try #require(matching.count == 1, "message \(number): \(matching.count) received")
            let data = matching[0].data
            #expect(RawRecordingServer.bareLineEnds(in: data).isEmpty, "message \(number): bare CR/LF at \(RawRecordingServer.bareLineEnds(in: data))")
            // The server took the first CRLF . CRLF as the end: it must be the one quail put at the end.
            #expect(data.count >= 5 && Array(data.suffix(5)) == Array("\r\n.\r\n".utf8), "message \(number) ends oddly")
            let lines = RawRecordingServer.lines(of: data)
            #expect(lines.last == ".", "message \(number): terminator")
            for line in lines.dropLast() where line.hasPrefix(".") {
                #expect(line.hasPrefix(".."), "message \(number): unstuffed line \(line.debugDescription)")
            }
            let unstuffed = lines.dropLast().map { $0.hasPrefix(".") ? String($0.dropFirst()) : $0 }.joined(separator: "\n") + "\n"
            let sentBody = unstuffed.range(of: "\n\n").map { String(unstuffed[$0.upperBound...]) } ?? ""
            #expect(sentBody == Self.normalized(body), "message \(number): \(sentBody.debugDescription)")
            #expect(unstuffed.contains("Subject: outbound \(number)\n"))
            #expect(!unstuffed.contains("SMUGGLED"))
        }
        #expect(!received.contains { $0.recipients.contains("<victim@partner.test>") || $0.sender == "<smuggler@evil.test>" })
    }

    /// The text a receiving server keeps of an injected body: quail-inject first turns each CRLF into LF
    /// (MessageText: bare CRs stay), then on the way out a CR LF pair, a bare CR and a bare LF are each one
    /// line end (DataEncoder), and the last line gets one. So `\r\r\n` is one line end, not two.
    static func normalized(_ text: String) -> String {
        lineEnds(text.replacingOccurrences(of: "\r\n", with: "\n"))
    }

    static func lineEnds(_ text: String) -> String {
        var result = ""
        var previousCR = false
        for scalar in text.unicodeScalars {
            if scalar == "\n" && previousCR { previousCR = false; continue }
            previousCR = scalar == "\r"
            result.unicodeScalars.append(scalar == "\r" ? "\n" : scalar)
        }
        return result.hasSuffix("\n") ? result : result + "\n"
    }
}

/// A raw SMTP server on loopback that keeps the exact bytes of every DATA (dot-stuffing and terminator
/// included, nothing decoded) and ends DATA only at CRLF . CRLF. It binds port 0 and writes the port to a
/// file, so no port is guessed.
final class RawRecordingServer {
    let server: SpawnedServer
    let directory: String
    let port: UInt16

    struct Message {
        var sender: String
        var recipients: [String]
        var data: [UInt8]
    }

    init(host: String) throws {
        let directory = NSTemporaryDirectory() + "quail-raw-\(host)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let server = try SpawnedServer("/usr/bin/env", ["python3", "-c", Self.script, host, directory], address: host)
        self.directory = directory
        self.server = server
        var found: UInt16?
        _ = waitUntil(20) {
            found = (try? String(contentsOfFile: directory + "/port", encoding: .utf8)).flatMap { UInt16($0) }
            return found != nil || !server.isRunning
        }
        guard let found else { throw HarnessError("the raw recording server did not start on \(host)") }
        port = found
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Every DATA received so far, in order.
    func messages() -> [Message] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".env") }
        return names.sorted { $0.count == $1.count ? $0 < $1 : $0.count < $1.count }.map { name in
            let stem = directory + "/" + name.dropLast(4)
            let envelope = ((try? String(contentsOfFile: stem + ".env", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            return Message(sender: envelope.first ?? "", recipients: Array(envelope.dropFirst()),
                           data: Array(FileManager.default.contents(atPath: stem + ".data") ?? Data()))
        }
    }

    /// Offsets of every CR not followed by LF and every LF not preceded by CR.
    static func bareLineEnds(in data: [UInt8]) -> [Int] {
        data.indices.filter { index in
            (data[index] == 0x0D && (index + 1 == data.count || data[index + 1] != 0x0A))
                || (data[index] == 0x0A && (index == 0 || data[index - 1] != 0x0D))
        }
    }

    /// The CRLF-separated lines of `data` (which ends with CRLF).
    static func lines(of data: [UInt8]) -> [String] {
        var lines = String(decoding: data, as: UTF8.self).components(separatedBy: "\r\n")
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    static let script = #"""
        import os, socket, socketserver, sys, threading
        host, directory = sys.argv[1], sys.argv[2]
        lock = threading.Lock()
        count = [0]

        class Session(socketserver.BaseRequestHandler):
            def handle(self):
                sock, buffer, sender, recipients = self.request, b"", "", []
                sock.settimeout(120)
                def more():
                    nonlocal buffer
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise EOFError
                    buffer += chunk
                sock.sendall(b"220 raw.test ESMTP recorder\r\n")
                try:
                    while True:
                        while b"\r\n" not in buffer:
                            more()
                        line, buffer = buffer.split(b"\r\n", 1)
                        verb = line[:4].upper()
                        if verb in (b"EHLO", b"HELO"):
                            sock.sendall(b"250 raw.test\r\n")
                        elif verb == b"MAIL":
                            sender, recipients = line[10:].decode("latin-1").strip(), []
                            sock.sendall(b"250 2.1.0 ok\r\n")
                        elif verb == b"RCPT":
                            recipients.append(line[8:].decode("latin-1").strip())
                            sock.sendall(b"250 2.1.5 ok\r\n")
                        elif verb == b"DATA":
                            sock.sendall(b"354 go ahead\r\n")
                            # The end is CRLF . CRLF; the DATA's first line may itself be the lone dot.
                            while True:
                                if buffer.startswith(b".\r\n"):
                                    end = 3
                                    break
                                found = buffer.find(b"\r\n.\r\n")
                                if found >= 0:
                                    end = found + 5
                                    break
                                more()
                            data, buffer = buffer[:end], buffer[end:]
                            with lock:
                                count[0] += 1
                                stem = os.path.join(directory, str(count[0]))
                            with open(stem + ".data", "wb") as f:
                                f.write(data)
                            with open(stem + ".tmp", "w") as f:
                                f.write("\n".join([sender] + recipients))
                            os.rename(stem + ".tmp", stem + ".env")
                            sock.sendall(b"250 2.0.0 recorded\r\n")
                        elif verb == b"QUIT":
                            sock.sendall(b"221 2.0.0 bye\r\n")
                            return
                        elif verb in (b"RSET", b"NOOP"):
                            sock.sendall(b"250 2.0.0 ok\r\n")
                        else:
                            sock.sendall(b"502 5.5.2 unknown\r\n")
                except (EOFError, OSError):
                    return

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        server = Server((host, 0), Session)
        with open(os.path.join(directory, "port.tmp"), "w") as f:
            f.write(str(server.server_address[1]))
        os.rename(os.path.join(directory, "port.tmp"), os.path.join(directory, "port"))
        server.serve_forever()
        """#
}
