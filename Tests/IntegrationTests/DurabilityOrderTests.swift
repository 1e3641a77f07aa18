import Foundation
import Glibc
import QuailCore
import Testing

/// DESIGN.md, "The queue": quail-queue exits 0, and so quail-smtpd answers 250, only after the message file
/// is written and fsynced, renamed into `todo/`, and `todo/` fsynced. These tests run the real programs under
/// `strace -f -tt -y` and check that order in the system calls themselves. With CI=true a missing strace is a
/// failure, not a skip.
@Suite(.enabled(if: Tracer.strace != nil || ProcessInfo.processInfo.environment["CI"] == "true",
                "strace is not installed (scripts/test installs it)"))
struct DurabilityOrderTests {
    static let traced = "trace=openat,open,write,writev,sendto,sendmsg,fsync,fdatasync,rename,renameat,renameat2,exit_group"

    /// The strace command line in front of `program`, writing its record to `output`.
    func straceArguments(_ output: String, _ program: String) throws -> (String, [String]) {
        guard let strace = Tracer.strace else { throw HarnessError("strace is not installed; CI=true requires it") }
        return (strace, ["-f", "-tt", "-y", "-s", "96", "-o", output, "-e", Self.traced, Programs.path(program)])
    }

    func environment(_ home: TestHome, _ extra: [String] = []) -> [String] {
        ChildProcess.currentEnvironment().filter { !$0.hasPrefix("QUAIL_HOME=") && !$0.hasPrefix("QUAIL_USER=") }
            + home.environment.map { "\($0.key)=\($0.value)" } + extra
    }

    @Test func injectionIsDurableBeforeQuailQueueExitsZero() throws {
        let home = try TestHome()
        let tracePath = home.path + "/quail-queue.trace"
        let (strace, arguments) = try straceArguments(tracePath, "quail-queue")
        let message = try FileIO.makePipe(), envelope = try FileIO.makePipe()
        let pid = try ChildProcess.spawn(strace, arguments: arguments, environment: environment(home),
                                         stdin: message.read, stdout: envelope.read)
        close(message.read)
        close(envelope.read)
        signal(SIGPIPE, SIG_IGN)
        try FileIO.writeAll(message.write, "Subject: durable\n\nbody\n")
        close(message.write)
        try FileIO.writeAll(envelope.write, Array("Fa@client.test\0Tuser@quail.test\0\0".utf8))
        close(envelope.write)
        #expect(try ChildProcess.wait(pid) == 0)
        #expect(home.todoCount() == 1)

        let trace = try SyscallTrace(path: tracePath)
        // The success: quail-queue (strace's only child) exiting 0.
        let exit = try #require(trace.events.first { $0.name == "+++ exited" && $0.result == "0" }, "\(trace.summary)")
        let problems = trace.durableCommitProblems(before: exit)
        #expect(problems.isEmpty, "\(problems)\n\(trace.summary)")
    }

    @Test func smtpTransactionIsDurableBeforeThe250IsWritten() throws {
        let home = try TestHome.backup()
        let tracePath = home.path + "/quail-smtpd.trace"
        let (strace, arguments) = try straceArguments(tracePath, "quail-smtpd")
        // quail-smtpd on stdin/stdout, as tcpserver runs it, over a socketpair: no port, no listener.
        var ends: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0 else { throw Errno.current }
        _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
        let pid = try ChildProcess.spawn(strace, arguments: arguments,
                                         environment: environment(home, ["TCPREMOTEIP=127.0.0.1", "TCPLOCALIP=127.0.0.1"]),
                                         stdin: ends[1], stdout: ends[1])
        close(ends[1])
        let client = SocketTalk(fd: ends[0])
        defer { close(ends[0]) }
        #expect(try client.reply().hasPrefix("220 "))
        for (command, code) in [("EHLO client.test", "250"), ("MAIL FROM:<a@client.test>", "250"),
                                ("RCPT TO:<user@partner.test>", "250"), ("DATA", "354")] {
            try client.send(command + "\r\n")
            let reply = try client.reply()
            #expect(reply.hasPrefix(code), "\(command): \(reply)")
        }
        try client.send("Subject: durable over SMTP\r\n\r\nbody\r\n.\r\n")
        let accepted = try client.reply()
        #expect(accepted.hasPrefix("250 "), "\(accepted)")
        try client.send("QUIT\r\n")
        _ = try? client.reply()
        var status: Int32 = -1
        #expect(waitUntil(30) { waitpid(pid, &status, WNOHANG) == pid }, "strace/quail-smtpd did not exit")
        #expect(home.todoCount() == 1)

        let trace = try SyscallTrace(path: tracePath)
        // The success: the first 250 quail-smtpd writes after its 354.
        let dataStart = try #require(trace.events.firstIndex { $0.isWrite && $0.arguments.contains("\"354 ") }, "\(trace.summary)")
        let reply = try #require(trace.events[dataStart...].first { $0.isWrite && $0.arguments.contains("\"250 ") }, "\(trace.summary)")
        var problems = trace.durableCommitProblems(before: reply)
        // A session that owns the queue commits the message itself (docs/DESIGN.md, "Processes"): the rename into
        // todo/ is the session's own, and no queue process was started for it.
        let commit = trace.events.first { $0.name.hasPrefix("rename") && $0.quoted.count >= 2 && $0.quoted[1].contains("/queue/todo/") }
        if commit?.pid != reply.pid { problems.append("the commit was not made by the session process \(reply.pid)") }
        if trace.events.contains(where: { $0.pid != reply.pid }) { problems.append("a process besides the session ran") }
        #expect(problems.isEmpty, "\(problems)\n\(trace.summary)")
    }
}

/// The trace checker itself, on hand-written traces: it must not pass a commit that is out of order.
struct SyscallTraceCheckerTests {
    static let good = [
        #"7 10:00:00.000001 openat(AT_FDCWD</>, "/q/queue/tmp/7.1.0", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 3</q/queue/tmp/7.1.0>"#,
        #"7 10:00:00.000002 write(3</q/queue/tmp/7.1.0>, "Fa@b\0Tc@d\0\0", 11) = 11"#,
        #"7 10:00:00.000003 fsync(3</q/queue/tmp/7.1.0>) = 0"#,
        #"7 10:00:00.000004 rename("/q/queue/tmp/7.1.0", "/q/queue/todo/99") = 0"#,
        #"7 10:00:00.000005 openat(AT_FDCWD</>, "/q/queue/todo", O_RDONLY|O_CLOEXEC|O_DIRECTORY) = 4</q/queue/todo>"#,
        #"7 10:00:00.000006 fsync(4</q/queue/todo> <unfinished ...>"#,
        #"8 10:00:00.000007 write(1<socket:[1]>, "354 go ahead\r\n", 14) = 14"#,
        #"7 10:00:00.000008 <... fsync resumed>) = 0"#,
        #"7 10:00:00.000009 +++ exited with 0 +++"#,
        #"8 10:00:00.000010 write(1<socket:[1]>, "250 2.0.0 ok\r\n", 14) = 14"#,
    ]

    func problems(_ lines: [String]) throws -> [String] {
        let path = NSTemporaryDirectory() + "quail-trace-\(UUID().uuidString)"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let trace = try SyscallTrace(path: path)
        let reply = try #require(trace.events.last { $0.isWrite && $0.arguments.contains("\"250 ") })
        return trace.durableCommitProblems(before: reply)
    }

    @Test func passesTheRightOrder() throws {
        #expect(try problems(Self.good) == [])
    }

    @Test(arguments: [
        [2],  // no fsync of the file
        [4, 5],  // no fsync of todo/
        [3],  // not renamed
    ])
    func catchesAMissingStep(removed: [Int]) throws {
        let lines = Self.good.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        #expect(try !problems(lines).isEmpty)
    }

    @Test func catchesThe250BeforeTheDirectoryFsyncFinished() throws {
        var lines = Self.good
        lines.swapAt(7, 9)  // the 250 goes out while fsync(todo) is still unfinished
        #expect(try !problems(lines).isEmpty)
    }

    @Test func catchesTheRenameBeforeTheFileFsync() throws {
        var lines = Self.good
        lines.swapAt(2, 3)
        #expect(try !problems(lines).isEmpty)
    }
}

/// Where strace is, if installed.
enum Tracer {
    static let strace: String? = try? SMTPDaemon.tool("strace")
}

/// A minimal byte-exact SMTP talker over a connected descriptor (the socketpair's end).
struct SocketTalk {
    let fd: Int32

    func send(_ text: String) throws { try FileIO.writeAll(fd, text) }

    /// One whole reply (the last line has a space after its code), within 30 s.
    func reply() throws -> String {
        var collected: [UInt8] = []
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let text = Self.complete(collected) { return text }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 200) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = read(fd, &chunk, chunk.count)
            guard count > 0 else { throw HarnessError("closed; got \(String(decoding: collected, as: UTF8.self).debugDescription)") }
            collected += chunk[0..<count]
        }
        throw HarnessError("no reply within 30 s; got \(String(decoding: collected, as: UTF8.self).debugDescription)")
    }

    private static func complete(_ bytes: [UInt8]) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasSuffix("\r\n") else { return nil }
        let lines = text.split(separator: "\r\n")
        guard let last = lines.last, last.count >= 4, last.dropFirst(3).first == " " else { return nil }
        return text
    }
}

/// strace's record (`-f -tt -y`): one event per system call, in the order they happened, with an
/// `<unfinished ...>` call and its `<... resumed>` joined into one event that starts at the first line and
/// ends at the second.
struct SyscallTrace {
    struct Event {
        var pid: String
        /// Line numbers where the call started and where it returned.
        var start: Int
        var end: Int
        /// `fsync`, `rename`, ..., or `+++ exited`.
        var name: String
        /// The text between the parentheses (with -y, every descriptor followed by `<path>`).
        var arguments: String
        /// The return value (for `+++ exited`, the exit status).
        var result: String

        var isWrite: Bool { ["write", "writev", "sendto", "sendmsg"].contains(name) }
        /// The call returned a number ≥ 0 (with -y a descriptor reads `3</path>`).
        var succeeded: Bool { Int(result.prefix { $0.isNumber }) != nil }
        /// The path strace prints for the first descriptor argument (`3</q/tmp/1.2.0>` → `/q/tmp/1.2.0`).
        var firstPath: String? {
            guard let open = arguments.firstIndex(of: "<"), let close = arguments[open...].firstIndex(of: ">") else { return nil }
            return String(arguments[arguments.index(after: open)..<close])
        }
        /// The quoted strings among the arguments (paths of open and rename).
        var quoted: [String] { arguments.split(separator: "\"", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) } }
    }

    var events: [Event] = []
    let lines: [String]

    init(path: String) throws {
        lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        var pending: [String: (line: Int, text: String)] = [:]
        for (number, line) in lines.enumerated() {
            let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            guard fields.count == 3 else { continue }
            let pid = String(fields[0])
            var body = String(fields[2])
            var start = number
            if body.hasPrefix("+++ exited with ") {
                let status = body.dropFirst("+++ exited with ".count).prefix { $0.isNumber }
                events.append(Event(pid: pid, start: number, end: number, name: "+++ exited", arguments: "", result: String(status)))
                continue
            }
            if body.hasSuffix("<unfinished ...>") {
                pending[pid] = (number, String(body.dropLast("<unfinished ...>".count)))
                continue
            }
            if body.hasPrefix("<... "), let resumed = body.range(of: " resumed>") {
                guard let first = pending.removeValue(forKey: pid) else { continue }
                body = first.text + body[resumed.upperBound...]
                start = first.line
            }
            guard let open = body.firstIndex(of: "("), let equals = body.range(of: ") = ", options: .backwards) else { continue }
            events.append(Event(pid: pid, start: start, end: number, name: String(body[..<open]),
                                arguments: String(body[body.index(after: open)..<equals.lowerBound]),
                                result: String(body[equals.upperBound...])))
        }
    }

    /// Lines that matter when an assertion fails: the queue's files and the replies.
    var summary: String {
        lines.filter { $0.contains("/queue/") || $0.contains("\"2") || $0.contains("\"3") || $0.contains("+++") }
            .suffix(60).joined(separator: "\n")
    }

    /// What is wrong with the commit before `success`: the message file under `queue/tmp/` written, then
    /// fsynced, then renamed into `queue/todo/`, then `todo/` fsynced, each step finished before the next
    /// starts and the last finished before `success` starts. Empty when all holds.
    func durableCommitProblems(before success: Event) -> [String] {
        let created = events.first { ["openat", "open"].contains($0.name) && $0.arguments.contains("O_CREAT")
            && $0.quoted.contains { $0.contains("/queue/tmp/") } && $0.succeeded }
        guard let created, let tmpPath = created.quoted.first(where: { $0.contains("/queue/tmp/") }) else {
            return ["no message file created under queue/tmp/"]
        }
        // strace -y prints the resolved path; the file's own name is unique either way.
        let tmpName = "/queue/tmp/" + (tmpPath.split(separator: "/").last.map(String.init) ?? "")
        let onFile = { (event: Event) in event.firstPath?.hasSuffix(tmpName) == true }
        var problems: [String] = []
        let writes = events.filter { $0.isWrite && onFile($0) && $0.succeeded }
        guard let lastWrite = writes.last else { return ["no write to \(tmpName)"] }
        guard let sync = events.first(where: { ["fsync", "fdatasync"].contains($0.name) && onFile($0) && $0.start > lastWrite.end }),
              sync.result == "0" else {
            return ["\(tmpName) was not fsynced after its last write (line \(lastWrite.end))"]
        }
        let rename = events.first {
            $0.name.hasPrefix("rename") && $0.quoted.first.map { $0.hasSuffix(tmpName) } == true && $0.result == "0"
        }
        guard let rename, rename.quoted.count >= 2, rename.quoted[1].contains("/queue/todo/") else {
            return ["\(tmpName) was not renamed into queue/todo/"]
        }
        if rename.start < sync.end { problems.append("rename (line \(rename.start)) before the file's fsync finished (line \(sync.end))") }
        let directorySync = events.first {
            ["fsync", "fdatasync"].contains($0.name) && $0.firstPath?.hasSuffix("/queue/todo") == true && $0.start > rename.end
        }
        guard let directorySync, directorySync.result == "0" else {
            return problems + ["queue/todo/ was not fsynced after the rename (line \(rename.end))"]
        }
        if writes.contains(where: { $0.start > sync.start }) { problems.append("\(tmpName) written after its fsync") }
        if directorySync.end > success.start {
            problems.append("success (line \(success.start)) before todo/ was fsynced (line \(directorySync.end))")
        }
        return problems
    }
}
