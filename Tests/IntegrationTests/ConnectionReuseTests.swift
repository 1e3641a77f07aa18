import Foundation
import Glibc
import QuailCore
import Testing

/// Kept SMTP sessions (Postfix's connection cache): a backlog for one destination goes over one connection,
/// and a kept session the primary dropped costs a fresh connection, never a message.
@Suite(.serialized) struct ConnectionReuseTests {
    static let primaryHost = "127.0.0.2"

    func backup(port: UInt16, _ name: String = #function) throws -> TestHome {
        try TestHome.partnerBackup(primary: Self.primaryHost, port: port, name)
    }

    /// Five messages queued before quail-send starts, one delivery at a time: five deliveries by one worker,
    /// five messages at the primary, one SMTP session (one EHLO).
    @Test func aBacklogGoesOverOneKeptSession() throws {
        let port = try LoopbackDNS.unusedPort()
        let primary = try RecordingPrimary(Self.primaryHost, port: port, pipelining: true)
        let home = try backup(port: port)
        home.control("concurrencyremote", "1")
        for number in 1...5 {
            #expect(try home.inject("Subject: \(number)\n\nbody \(number)\n", to: ["user@partner.test"]).status == 0)
        }
        let send = try Daemon("quail-send", home: home)
        defer { send.stop() }
        #expect(waitUntil(30) { home.queueIsEmpty() }, "\(send.log)")
        #expect(primary.messages().count == 5)
        #expect(send.log.components(separatedBy: "starting delivery").count - 1 == 5)
        #expect(primary.connections() == 1, "\(send.log)")
        let workers = childProcesses(of: send.process.processIdentifier).filter { processName($0) == "quail-remote" }
        #expect(workers.count == 1, "one exec'd quail-remote worker: \(workers)")
    }

    /// Good and refused messages interleaved, one delivery at a time over one kept session, to a primary that
    /// refuses some recipients at RCPT and answers a nested MAIL with 503, as Postfix does (aiosmtpd): every good
    /// message is delivered and only the refused ones bounce, with and without PIPELINING.
    @Test(arguments: [false, true])
    func goodMailAfterARefusedTransactionOnAKeptSessionIsDelivered(pipelining: Bool) throws {
        let port = try LoopbackDNS.unusedPort()
        let primary = try RecordingPrimary(Self.primaryHost, port: port, pipelining: pipelining)
        let home = try backup(port: port, "interleaved-\(pipelining)")
        home.control("locals", "example.test")
        home.control("concurrencyremote", "1")
        for number in 1...6 {
            let recipient = number.isMultiple(of: 2) ? "user@partner.test" : "reject\(number)@partner.test"
            #expect(try home.inject("Subject: \(number)\n\nbody \(number)\n", to: [recipient], from: "sender@example.test").status == 0)
        }
        let send = try Daemon("quail-send", home: home)
        defer { send.stop() }
        #expect(waitUntil(30) { home.queueIsEmpty() }, "\(send.log)")
        #expect(primary.messages().count == 3, "\(send.log)")
        let bounces = home.maildirNew("sender", "example.test").map { home.read($0) }
        #expect(bounces.count == 3, "\(send.log)")
        for number in [1, 3, 5] {
            #expect(bounces.filter { $0.contains("Final-Recipient: rfc822; reject\(number)@partner.test") }.count == 1)
        }
        #expect(!bounces.contains { $0.contains("user@partner.test") })
        #expect(primary.connections() == 1, "\(send.log)")
    }

    /// A worker starts with none of quail-send's signal handlers: SIGTERM ends it, and the delivery it was doing
    /// is deferred, not lost and not bounced.
    @Test func aWorkerHasNoneOfQuailSendsSignalHandlers() throws {
        let port = try LoopbackDNS.unusedPort()
        // A primary that takes the connection and never greets: the delivery waits for its 220.
        let silent = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(silent) }
        let address = try #require(SocketAddress(parsing: "\(Self.primaryHost):\(port)"))
        try #require(address.withSockaddr { bind(silent, $0, $1) } == 0 && listen(silent, 8) == 0)
        let home = try backup(port: port)
        #expect(try home.inject("Subject: waits\n\nbody\n", to: ["user@partner.test"]).status == 0)
        let send = try Daemon("quail-send", home: home)
        defer { send.stop() }
        var delivery: pid_t?
        #expect(waitUntil(15) {
            delivery = childProcesses(of: send.process.processIdentifier).first { processName($0) == "quail-remote" }
            return delivery != nil
        }, "\(send.log)")
        let pid = try #require(delivery)
        // SigCgt, the caught signals, bit n - 1 for signal n. The Swift runtime's own crash handlers (SIGSEGV and
        // the like) stay, as in any Swift program; quail-send's are HUP, ALRM, TERM and CHLD.
        func caught(_ pid: pid_t) throws -> UInt64 {
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("SigCgt:") })
            return try #require(UInt64(line.dropFirst("SigCgt:".count).trimmingCharacters(in: .whitespaces), radix: 16))
        }
        let quailSends = [SIGHUP, SIGALRM, SIGTERM, SIGCHLD].reduce(UInt64(0)) { $0 | 1 << UInt64($1 - 1) }
        #expect(try caught(send.process.processIdentifier) & quailSends == quailSends)
        #expect(try caught(pid) & quailSends == 0)
        #expect(kill(pid, SIGTERM) == 0)
        #expect(waitUntil(10) { !childProcesses(of: send.process.processIdentifier).contains(pid) }, "SIGTERM ends the delivery")
        #expect(waitUntil(10) { send.log.contains("deferral") || send.log.contains("temporary") }, "\(send.log)")
    }

    /// `quail-remote --worker` spoken to directly: the control frame, then deliveries. Two messages go over one
    /// session; after the idle limit the worker has ended it, and the third takes a new connection. The route
    /// is the control frame's, not the (absent) control files'.
    @Test func aWorkerKeepsItsSessionWhileBusyAndEndsItWhenIdle() throws {
        let port = try LoopbackDNS.unusedPort()
        let primary = try RecordingPrimary(Self.primaryHost, port: port, pipelining: true)
        let home = try TestHome()
        let message = home.path + "/message"
        try Data("Subject: worker\n\nbody\n".utf8).write(to: URL(fileURLWithPath: message))
        let worker = try WorkerProcess("quail-remote", home: home, control: [
            "rcpthosts": "partner.test", "smtproutes": "partner.test:[\(Self.primaryHost)]:\(port)",
        ])
        defer { worker.stop() }
        for number in 1...2 {
            let (report, kept) = try worker.deliver(message, sender: "a@b.test", to: ["user\(number)@partner.test"])
            #expect(report.hasPrefix("K250"), "\(report)")
            #expect(kept == "[127.0.0.2]:\(port)")
        }
        #expect(primary.connections() == 1)
        usleep(3_000_000)  // past RemoteWorker.idleLimit (2 s): the worker ends the idle session by itself
        let (report, _) = try worker.deliver(message, sender: "a@b.test", to: ["user3@partner.test"])
        #expect(report.hasPrefix("K250"), "\(report)")
        #expect(primary.connections() == 2)
        #expect(primary.messages().count == 3)
    }
}

/// A delivery worker run by a test as quail-send runs it: frames on its stdin and stdout.
final class WorkerProcess {
    let pid: pid_t
    let requests: Int32
    let results: Int32
    var reader = WorkerFrameReader()

    init(_ program: String, home: TestHome, control: [String: String]) throws {
        let toWorker = try FileIO.makePipe()
        let fromWorker = try FileIO.makePipe()
        let environment = ChildProcess.currentEnvironment() + home.environment.map { "\($0.key)=\($0.value)" }
        pid = try ChildProcess.spawn(Programs.path(program), arguments: ["--worker"], environment: environment,
                                     stdin: toWorker.read, stdout: fromWorker.write)
        close(toWorker.read)
        close(fromWorker.write)
        requests = toWorker.write
        results = fromWorker.read
        let snapshot = ControlSnapshot(files: control.mapValues { Array(($0 + "\n").utf8) })
        try FileIO.writeAll(requests, WorkerFrame.control(snapshot).encoded)
    }

    /// One delivery of the message file at `path`: the report and the destination the worker keeps a session to.
    func deliver(_ path: String, sender: String, to recipients: [String]) throws -> (report: String, kept: String?) {
        try FileIO.writeAll(requests, WorkerFrame.deliver(path: path, offset: 0, sender: sender, recipients: recipients).encoded)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if case .result(let report, let kept)? = try reader.next() { return (String(decoding: report, as: UTF8.self), kept) }
            let count = read(results, &buffer, buffer.count)
            guard count > 0 else { throw HarnessError("the worker ended its output") }
            reader.append(buffer[0..<count])
        }
    }

    /// Closes its stdin, as quail-send retires a worker, and waits for its exit status.
    @discardableResult
    func stop() -> Int32 {
        close(requests)
        defer { close(results) }
        return (try? ChildProcess.wait(pid)) ?? -1
    }
}
