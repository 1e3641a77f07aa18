import Foundation
import Glibc
import QuailCore
import Testing

// Helpers for the quail-smtpd tests: a server under `--listen` or under tcpserver, a raw-socket client that
// speaks byte-exact SMTP (like smtpscript), swaks and smtplib runners, and readers of what landed in todo/.

/// How quail-smtpd is run in a test.
enum SMTPMode: String, Sendable, CaseIterable, CustomTestStringConvertible {
    /// `quail-smtpd --listen 127.0.0.1:0`: its own listener, one child per connection.
    case listen
    /// Debian ucspi-tcp's `tcpserver` running `quail-smtpd` on stdin/stdout per connection.
    case tcpserver

    var testDescription: String { rawValue }
}

/// A running quail-smtpd listening on 127.0.0.1 (or another address) at an ephemeral port.
final class SMTPDaemon {
    let home: TestHome
    let mode: SMTPMode
    let host: String
    private(set) var port: UInt16 = 0
    /// The listener (quail-smtpd --listen or tcpserver).
    let process: Process
    let logPath: String
    private var daemon: Daemon?

    /// Starts `quail-smtpd --listen ADDRESS:0` and waits for its `listening on ADDR:PORT` line.
    init(_ home: TestHome, mode: SMTPMode = .listen, address: String = "127.0.0.1", environment: [String: String] = [:]) throws {
        self.home = home
        self.mode = mode
        self.host = address
        switch mode {
        case .listen:
            let listenAddress = address.contains(":") ? "[\(address)]:0" : "\(address):0"
            let daemon = try Daemon("quail-smtpd", ["--listen", listenAddress], home: home, environment: environment)
            self.daemon = daemon
            process = daemon.process
            logPath = daemon.logPath
            var found: UInt16?
            _ = waitUntil(20) {
                found = SMTPDaemon.listeningPort(in: daemon.log)
                return found != nil || !daemon.process.isRunning
            }
            guard let found else {
                throw HarnessError("quail-smtpd --listen did not report `listening on ADDR:PORT`: \(daemon.log)")
            }
            port = found
        case .tcpserver:
            // -1 prints the bound port on stdout; -R -H: no ident or DNS lookups; -l: no local DNS lookup.
            logPath = home.path + "/tcpserver.log"
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            let log = FileHandle(forWritingAtPath: logPath)!
            let output = Pipe()
            process = Process()
            process.executableURL = URL(fileURLWithPath: try SMTPDaemon.tool("tcpserver"))
            process.arguments = ["-1", "-v", "-R", "-H", "-l", "tcp.quail.test", address, "0", Programs.path("quail-smtpd")]
            process.environment = ProcessInfo.processInfo.environment.merging(home.environment.merging(environment) { $1 }) { $1 }
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = output
            process.standardError = log
            try process.run()
            let line = readLine(from: output.fileHandleForReading.fileDescriptor, timeout: 20)
            guard let line, let number = UInt16(line.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                let said = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                throw HarnessError("tcpserver did not print its port (got \(String(describing: line))): \(said)")
            }
            port = number
        }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    var pid: pid_t { process.processIdentifier }

    /// A new raw connection to this server.
    func connect(timeout: Double = 10) throws -> SMTPClient { try SMTPClient(host: host, port: port, timeout: timeout) }

    /// `host:port` as swaks wants it.
    var swaksServer: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Sends SIGTERM and waits (bounded) for the listener to exit; returns its status, nil when it did not exit.
    @discardableResult
    func stop(within seconds: Double = 45) -> Int32? {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        guard waitUntil(seconds, { !process.isRunning }) else { return nil }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The port of the first `listening on ADDR:PORT` line in `log`.
    static func listeningPort(in log: String) -> UInt16? {
        for line in log.split(separator: "\n") {
            guard let range = line.range(of: "listening on ") else { continue }
            let address = line[range.upperBound...].split(separator: " ").first ?? ""
            guard let colon = address.lastIndex(of: ":") else { continue }
            if let port = UInt16(address[address.index(after: colon)...]), port != 0 { return port }
        }
        return nil
    }

    /// The full path of an installed tool, or an error naming the Debian package.
    static func tool(_ name: String) throws -> String {
        for directory in ["/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin"] where access(directory + "/" + name, X_OK) == 0 {
            return directory + "/" + name
        }
        throw HarnessError("\(name) is not installed (scripts/test installs it)")
    }

    /// Children of the listener (the session processes under --listen or tcpserver).
    func sessionProcesses() -> [pid_t] { childProcesses(of: pid).filter { processName($0) == "quail-smtpd" } }

    /// Session processes serving a connection now: their fd 0 is a socket. Under --listen a process whose
    /// session ended waits, idle, on /dev/null for the next connection (SMTPListener.maximumUses).
    func busySessionProcesses() -> [pid_t] {
        sessionProcesses().filter { pid in
            var target = [CChar](repeating: 0, count: 256)
            let length = readlink("/proc/\(pid)/fd/0", &target, target.count - 1)
            return length > 0 && String(decoding: target.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self).hasPrefix("socket:")
        }
    }
}

/// Reads one line from `fd` within `timeout` seconds.
func readLine(from fd: Int32, timeout: Double) -> String? {
    var collected: [UInt8] = []
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&entry, 1, 100)
        if ready <= 0 { continue }
        var byte: UInt8 = 0
        let count = read(fd, &byte, 1)
        if count <= 0 { return collected.isEmpty ? nil : String(decoding: collected, as: UTF8.self) }
        if byte == UInt8(ascii: "\n") { return String(decoding: collected, as: UTF8.self) }
        collected.append(byte)
    }
    return nil
}

/// Processes whose parent is `parent`, from /proc.
func childProcesses(of parent: pid_t) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { pid_t($0) }.filter { pid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 2 && pid_t(fields[1]) == parent
    }
}

/// A process that has exited and waits for its parent to reap it.
func isZombie(_ pid: pid_t) -> Bool {
    ((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "").contains(") Z ")
}

func processName(_ pid: pid_t) -> String {
    ((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
}

/// A field of /proc/PID/status in kB (`VmRSS`, `VmHWM`), nil when the process is gone.
func procStatusKB(_ pid: pid_t, _ field: String) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
        return Int(line.dropFirst(field.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
    }
    return nil
}

// MARK: - Raw client

/// One SMTP reply: its code and its lines (without CRLF).
struct SMTPClientReply: CustomStringConvertible {
    var code: Int
    var lines: [String]
    /// The enhanced status code (`2.1.0`) of the first line that carries one.
    var enhanced: String? {
        for line in lines {
            let token = line.dropFirst(4).split(separator: " ").first.map(String.init) ?? ""
            let parts = token.split(separator: ".", omittingEmptySubsequences: false)
            if parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) { return token }
        }
        return nil
    }
    /// Lines' text after the code and separator.
    var texts: [String] { lines.map { String($0.dropFirst(4)) } }
    var description: String { lines.joined(separator: " | ") }
}

enum SMTPClientError: Error, CustomStringConvertible {
    case closed(partial: String)
    case timeout(partial: String)
    case connect(String)
    var description: String {
        switch self {
        case .closed(let partial): "connection closed by the server (unparsed input: \(partial.debugDescription))"
        case .timeout(let partial): "no complete reply in time (unparsed input: \(partial.debugDescription))"
        case .connect(let why): "cannot connect: \(why)"
        }
    }
}

/// A byte-exact SMTP client over a plain socket: `send` writes exactly the bytes given; `reply` reads one
/// (possibly multi-line) reply; `expect` checks its code and enhanced status code.
final class SMTPClient {
    let fd: Int32
    let timeout: Double
    private var buffer: [UInt8] = []
    private(set) var sawEOF = false

    init(host: String = "127.0.0.1", port: UInt16, timeout: Double = 10) throws {
        self.timeout = timeout
        signal(SIGPIPE, SIG_IGN)
        let family = host.contains(":") ? AF_INET6 : AF_INET
        fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SMTPClientError.connect("socket: \(errno)") }
        var result: Int32
        if family == AF_INET {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            inet_pton(AF_INET, host, &address.sin_addr)
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        } else {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            inet_pton(AF_INET6, host, &address.sin6_addr)
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
        if result != 0 {
            let error = errno
            Glibc.close(fd)
            throw SMTPClientError.connect("\(host):\(port): errno \(error)")
        }
    }

    deinit { Glibc.close(fd) }

    /// Writes all of `bytes`; false when the server has closed (EPIPE, ECONNRESET) or stopped reading for
    /// `timeout` seconds.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        let deadline = Date().addingTimeInterval(timeout)
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN && Date() < deadline {
                    // The server is not reading right now; keep taking in what it says so neither side blocks.
                    var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&entry, 1, 50)
                    if sawEOF || !fill(wait: 0) { return false }
                    continue
                }
                return false
            }
            offset += written
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Reads whatever arrives within `wait` seconds into the buffer; false at end of file.
    private func fill(wait: Double) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&entry, 1, Int32(max(0, wait * 1000)))
        guard ready > 0 else { return true }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        if count > 0 {
            buffer.append(contentsOf: chunk[0..<count])
            return true
        }
        if count < 0 && (errno == EAGAIN || errno == EINTR) { return true }
        sawEOF = true  // 0 = end of file; ECONNRESET counts as a close too
        return false
    }

    /// The next complete reply, parsed from the buffer if one is there.
    private func takeReply() -> SMTPClientReply? {
        var lines: [String] = []
        var start = 0
        while let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
            var end = newline
            if end > start && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            let line = String(decoding: buffer[start..<end], as: UTF8.self)
            lines.append(line)
            start = newline + 1
            let bytes = Array(line.utf8)
            if bytes.count < 4 || bytes[3] != UInt8(ascii: "-") {
                buffer.removeFirst(start)
                return SMTPClientReply(code: Int(line.prefix(3)) ?? -1, lines: lines)
            }
        }
        return nil
    }

    /// Reads one reply; throws when the server closes or nothing complete arrives within `timeout`.
    func reply(timeout: Double? = nil) throws -> SMTPClientReply {
        let deadline = Date().addingTimeInterval(timeout ?? self.timeout)
        while true {
            if let reply = takeReply() { return reply }
            if sawEOF { throw SMTPClientError.closed(partial: String(decoding: buffer, as: UTF8.self)) }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { throw SMTPClientError.timeout(partial: String(decoding: buffer, as: UTF8.self)) }
            _ = fill(wait: min(left, 0.5))
        }
    }

    /// Reads one reply and checks its code (and enhanced status code when given).
    @discardableResult
    func expect(_ code: Int, _ enhanced: String? = nil, timeout: Double? = nil,
                sourceLocation: SourceLocation = #_sourceLocation) throws -> SMTPClientReply {
        let reply = try self.reply(timeout: timeout)
        #expect(reply.code == code, "expected \(code), got: \(reply)", sourceLocation: sourceLocation)
        if let enhanced {
            #expect(reply.enhanced == enhanced, "expected \(code) \(enhanced), got: \(reply)", sourceLocation: sourceLocation)
        }
        return reply
    }

    /// Sends `line` + CRLF and checks the reply.
    @discardableResult
    func command(_ line: String, _ code: Int, _ enhanced: String? = nil,
                 sourceLocation: SourceLocation = #_sourceLocation) throws -> SMTPClientReply {
        send(line + "\r\n")
        return try expect(code, enhanced, sourceLocation: sourceLocation)
    }

    /// Reads the greeting and says EHLO (or HELO).
    func hello(_ name: String = "client.test", extended: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try expect(220, sourceLocation: sourceLocation)
        try command("\(extended ? "EHLO" : "HELO") \(name)", 250, sourceLocation: sourceLocation)
    }

    /// MAIL, RCPT and DATA up to its 354, each answered as an accepting server answers.
    func beginData(from sender: String = "s@client.test", to recipient: String = "user@partner.test",
                   sourceLocation: SourceLocation = #_sourceLocation) throws {
        try command("MAIL FROM:<\(sender)>", 250, "2.1.0", sourceLocation: sourceLocation)
        try command("RCPT TO:<\(recipient)>", 250, "2.1.5", sourceLocation: sourceLocation)
        try command("DATA", 354, sourceLocation: sourceLocation)
    }

    /// Waits until the server closes the connection, discarding (and returning) what it says meanwhile;
    /// nil when it is still open after `seconds`.
    func waitForClose(_ seconds: Double) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        while !sawEOF {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return nil }
            _ = fill(wait: min(left, 0.2))
        }
        let said = String(decoding: buffer, as: UTF8.self)
        buffer.removeAll()
        return said
    }

    /// Every reply until the server closes or is quiet for `quiet` seconds.
    func drainReplies(quiet: Double = 2) -> [SMTPClientReply] {
        var replies: [SMTPClientReply] = []
        while let reply = try? reply(timeout: quiet) { replies.append(reply) }
        return replies
    }
}

// MARK: - The spool

extension TestHome {
    /// Files in queue/todo/.
    func todoCount() -> Int { ((try? FileManager.default.contentsOfDirectory(atPath: queue.todo)) ?? []).count }

    /// Every queued file in todo/, parsed.
    func queuedMessages() -> [SpooledMessage] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: queue.todo)) ?? []).sorted()
        return names.compactMap { FileManager.default.contents(atPath: queue.todo + "/" + $0).map { SpooledMessage(Array($0)) } }
    }

    /// A minimal sample: backing up partner.test (HOST rule) and every subdomain of sub.partner.test.
    static func backup(_ name: String = #function) throws -> TestHome {
        let home = try TestHome(name)
        home.control("rcpthosts", "partner.test", ".sub.partner.test")
        return home
    }
}

/// A file of queue/todo/: envelope, quail-queue's Received line, quail-smtpd's Received field, message.
struct SpooledMessage {
    var bytes: [UInt8]
    var sender = ""
    var recipients: [String] = []
    /// Everything after the envelope.
    var message: [UInt8] = []
    /// quail-queue's Received line (one line).
    var queueReceived = ""
    /// quail-smtpd's Received field, continuation lines unfolded into one line.
    var smtpdReceived = ""
    /// The message as the client sent it (after CRLF → LF and dot-unstuffing).
    var original: [UInt8] = []

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        var index = 0
        var fields: [String] = []
        while index < bytes.count {
            guard let zero = bytes[index...].firstIndex(of: 0) else { break }
            if zero == index { index += 1; break }
            fields.append(String(decoding: bytes[index..<zero], as: UTF8.self))
            index = zero + 1
        }
        sender = fields.first.map { String($0.dropFirst()) } ?? ""
        recipients = fields.dropFirst().map { String($0.dropFirst()) }
        message = Array(bytes[min(index, bytes.count)...])
        // Header fields: a line and its continuation lines.
        var position = 0
        func takeField() -> String {
            var field = ""
            repeat {
                let end = message[position...].firstIndex(of: UInt8(ascii: "\n")) ?? message.count
                field += (field.isEmpty ? "" : " ") + String(decoding: message[position..<end], as: UTF8.self).trimmingCharacters(in: .whitespaces)
                position = min(end + 1, message.count)
            } while position < message.count && (message[position] == UInt8(ascii: " ") || message[position] == UInt8(ascii: "\t"))
            return field
        }
        if message.starts(with: Array("Received: (quail ".utf8)) { queueReceived = takeField() }
        if message[position...].starts(with: Array("Received:".utf8)) { smtpdReceived = takeField() }
        original = Array(message[position...])
    }

    var text: String { String(decoding: message, as: UTF8.self) }
    var originalText: String { String(decoding: original, as: UTF8.self) }
}

// MARK: - Real clients

/// The final replies swaks reports (`<-` and `<**` lines, `<~` and `<~*` over TLS), in order, as "CODE rest".
struct SwaksRun {
    var status: Int32
    var output: String
    var replies: [String]
    var codes: [Int] { replies.compactMap { Int($0.prefix(3)) } }
}

/// Runs swaks against `server` with `arguments`, a 20 s timeout.
func swaks(_ server: SMTPDaemon, _ arguments: [String]) throws -> SwaksRun {
    let outcome = try Programs.run(try SMTPDaemon.tool("swaks"), ["--server", server.swaksServer, "--timeout", "20", "--helo", "swaks.test"] + arguments)
    var replies: [String] = []
    for raw in outcome.stdout.split(separator: "\n") {
        var line = Substring(raw)
        // `<-` and `<**` in cleartext, `<~` and `<~*` over TLS.
        guard ["<** ", "<-  ", "<~  ", "<~* "].contains(where: line.hasPrefix) else { continue }
        line = line.dropFirst(4)
        line = line.drop { $0 == " " }
        let bytes = Array(line.utf8)
        if bytes.count >= 4 && bytes[3] == UInt8(ascii: "-") { continue }  // not the last line of a reply
        replies.append(String(line))
    }
    return SwaksRun(status: outcome.status, output: outcome.stdout + outcome.stderr, replies: replies)
}

/// Runs a Python smtplib script with `PORT` and `HOST` set as globals.
func smtplib(_ server: SMTPDaemon, _ body: String, input: [UInt8] = []) throws -> String {
    try python("import smtplib, sys\nHOST = \(server.host.debugDescription)\nPORT = \(server.port)\n" + body, input: input)
}
