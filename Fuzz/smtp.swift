// Fuzz target `smtp`: bytes from a client, split into lines by quail-smtpd's own line reader (SMTPInput,
// here over a pipe), through the SMTPSession state machine and, after a 354, the DATA decoder, the way
// SMTPServer.run drives them; no queue program is started and no reply is sent.
import Glibc
@testable import QuailCore

/// A backup MX for partner.test (validating its users) and every subdomain of sub.partner.test, with a
/// small `databytes`; built once, from no control files at all, so the fuzz loop never reads a file.
let configuration: Configuration = {
    var config: Configuration
    do { config = try Configuration(home: QuailHome(path: "/nonexistent/quail-fuzz")) } catch {
        fatalError("defaults: \(error)")
    }
    config.me = "quail.test"
    config.rcpthosts = DomainList(["partner.test", ".sub.partner.test", "[127.0.0.1]"])
    config.validRecipients = ["partner.test": ["user", "info"]]
    config.badMailFrom = ["spammer@evil.test", "@spam.test"]
    config.databytes = 4096
    return config
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSMTP(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    // All of the input must fit in the pipe (64 KiB) before the reader starts: one thread, no deadlock.
    let bytes = Array(UnsafeBufferPointer(start: data, count: min(size, 65536)))
    var ends: [Int32] = [0, 0]
    guard pipe(&ends) == 0 else { fatalError("pipe: \(errno)") }
    var written = 0
    while written < bytes.count {
        let count = bytes[written...].withUnsafeBytes { write(ends[1], $0.baseAddress, $0.count) }
        guard count > 0 else { break }
        written += count
    }
    close(ends[1])
    serve(SMTPInput(fd: ends[0]))
    close(ends[0])
    return 0
}

/// SMTPServer.run's loop without its I/O: every action is checked, then dropped.
func serve(_ start: SMTPInput) {
    var input = start
    var session = SMTPSession(config: configuration, relayClient: false)
    let deadline = MailDate.now() + 300
    while true {
        let action: SMTPSession.Action
        switch input.readLine(limit: SMTPServer.commandLineLimit, deadline: deadline) {
        case .endOfInput, .bareLineEnding: return
        case .timeout: fatalError("timeout on a pipe that holds all its input")
        case .tooLong: action = .reply(.lineTooLong)
        case .line(let line):
            precondition(line.count + 2 <= SMTPServer.commandLineLimit, "a line over the limit came through")
            precondition(!line.contains(0x0D) && !line.contains(0x0A), "a line holds a CR or LF")
            if line.contains(0) {
                action = .reply(.nulInCommand)
            } else if line.contains(where: { $0 >= 0x80 }) {
                action = .reply(.eightBitCommand)
            } else {
                action = session.handle(SMTPCommand(line: String(decoding: line, as: UTF8.self)))
            }
        }
        switch action {
        case .reply(let reply): checkWire(reply)
        case .close(let reply):
            checkWire(reply)
            return
        case .etrn(let domain): precondition(configuration.rcpthosts.contains(domain), "ETRN for \(domain)")
        case .startTLS: preconditionFailure("STARTTLS without servercert.pem")
        case .receiveData(let sender, let recipients):
            check(sender: sender, recipients: recipients)
            guard receive(&input, deadline: deadline) else { return }
        }
    }
}

/// Reads DATA to its end as SMTPServer.receiveData does; false when the session would close.
func receive(_ input: inout SMTPInput, deadline: Int) -> Bool {
    var decoder = DataDecoder(byteLimit: configuration.databytes)
    while true {
        switch decoder.feed(input.unread) {
        case .finished(let consumed):
            input.consume(consumed)
            precondition(!decoder.takeOutput().contains(0x0D), "a CR in the spooled message")
            return true
        case .bareLineEnding: return false
        case .needMore:
            input.consume(input.unread.count)
            precondition(!decoder.takeOutput().contains(0x0D), "a CR in the spooled message")
        }
        switch input.fill(deadline: deadline) {
        case .timeout: fatalError("timeout on a pipe that holds all its input")
        case .endOfInput: return false
        default: continue
        }
    }
}

/// A reply on the wire is whole lines, each ended by CRLF and nothing else (no reply injection).
func checkWire(_ reply: SMTPReply) {
    let wire = Array(reply.wire.utf8)
    precondition((200...599).contains(reply.code), "reply code \(reply.code)")
    precondition(wire.count >= 5 && wire.suffix(2) == [0x0D, 0x0A], "reply not CRLF-ended: \(reply)")
    for (index, byte) in wire.enumerated() where byte == 0x0D || byte == 0x0A {
        let paired = byte == 0x0D ? index + 1 < wire.count && wire[index + 1] == 0x0A : index > 0 && wire[index - 1] == 0x0D
        precondition(paired, "bare CR or LF in a reply: \(reply)")
    }
}

/// What reaches the queue program: a parsed sender and 1...100 recipients, every one accepted by policy.
func check(sender: String, recipients: [String]) {
    precondition(!recipients.isEmpty && recipients.count <= SMTPSession.maximumRecipients, "\(recipients.count) recipients")
    let envelope = Envelope(sender: sender, recipients: recipients)
    precondition((try? Envelope.parse(envelope.encoded)) == envelope, "envelope does not survive its encoding: \(envelope)")
    for recipient in recipients {
        let domain = Address.domain(of: recipient)
        precondition(configuration.rcpthosts.contains(domain) || recipient == "postmaster@quail.test",
                     "relayed to \(recipient)")
    }
}
