import Foundation
import Glibc
import QuailCore
import Testing

/// `quail-smtpd --listen`: the concurrency limit, timeouts, IPv6, SIGTERM. Serialized: these are about time.
@Suite(.serialized) struct SMTPListenerTests {
    @Test func connectionOverConcurrencyincomingGets421AndChildrenAreReaped() throws {
        let home = try TestHome.backup()
        home.control("concurrencyincoming", "2")
        let server = try SMTPDaemon(home)
        let first = try server.connect()
        try first.expect(220)
        let second = try server.connect()
        try second.expect(220)
        let third = try server.connect()
        try third.expect(421, "4.3.2")
        #expect(third.waitForClose(5) != nil, "421 then close")
        // Both held sessions still work.
        try second.command("NOOP", 250, "2.0.0")
        try first.command("EHLO client.test", 250)
        // One leaves: its slot is free again once its child is reaped.
        try first.command("QUIT", 221, "2.0.0")
        _ = first.waitForClose(5)
        var fourth: SMTPClient?
        var greeting: SMTPClientReply?
        #expect(waitUntil(10) {
            guard let client = try? server.connect(), let reply = try? client.reply() else { return false }
            fourth = client
            greeting = reply
            return reply.code == 220
        }, "a slot is free after a QUIT: \(String(describing: greeting))")
        try fourth?.command("QUIT", 221, "2.0.0")
        try second.command("QUIT", 221, "2.0.0")
        _ = second.waitForClose(5)
        // No zombies left behind: every finished session's child was reaped.
        #expect(waitUntil(10) {
            childProcesses(of: server.pid).allSatisfy { !isZombie($0) }
        }, "zombie children of the listener")
    }

    /// Only open sessions count toward the limit: a session is over for the listener before its client can see
    /// it end, whether the next client comes the moment the 221 arrives or once the connection has closed.
    /// More sessions than one process serves (SMTPListener.maximumUses), so the end of a process is crossed too.
    @Test(arguments: ["after the 221", "after the close"])
    func backToBackClientsAtTheLimitAreGreeted(moment: String) throws {
        let home = try TestHome.backup()
        home.control("concurrencyincoming", "2")
        let server = try SMTPDaemon(home)
        let held = try server.connect()
        try held.expect(220)
        var greetings: [Int] = []
        for _ in 0..<(SMTPListener.maximumUses * 6 / 10) {
            for _ in 0..<2 {
                let client = try server.connect()
                let greeting = try client.reply()
                greetings.append(greeting.code)
                guard greeting.code == 220 else { continue }
                try client.command("QUIT", 221, "2.0.0")
                if moment == "after the close" { #expect(client.waitForClose(5) != nil) }
            }
        }
        #expect(greetings.allSatisfy { $0 == 220 }, "\(greetings.filter { $0 != 220 }.count) of \(greetings.count) not greeted: \(greetings)")
        try held.command("QUIT", 221, "2.0.0")
    }

    @Test func idleSessionIsClosedAfterTimeoutsmtpd() throws {
        let home = try TestHome.backup()
        home.control("timeoutsmtpd", "2")
        let server = try SMTPDaemon(home)
        for stage in ["greeting", "mail", "data"] {
            let client = try server.connect()
            try client.hello()
            if stage != "greeting" {
                try client.command("MAIL FROM:<s@client.test>", 250, "2.1.0")
                try client.command("RCPT TO:<user@partner.test>", 250, "2.1.5")
            }
            if stage == "data" {
                try client.command("DATA", 354)
                client.send("Subject: half\r\n\r\nhalf a message\r\n")
            }
            let start = Date()
            let said = client.waitForClose(2 + 5)
            let elapsed = Date().timeIntervalSince(start)
            #expect(said != nil, "\(stage): still open after timeoutsmtpd + 5 s")
            #expect(elapsed >= 1.5, "\(stage): closed after \(elapsed) s, before the timeout")
            if let said, !said.isEmpty {
                #expect(said.hasPrefix("451 4.4.2") || said.hasPrefix("421"), "\(stage): \(said.debugDescription)")
            }
        }
        #expect(home.todoCount() == 0, "a half message is never queued")
    }

    /// Slowloris: one byte a second never ends the command, so the session must end at its deadline.
    @Test(arguments: ["command", "data"])
    func oneBytePerSecondSessionIsClosedAfterTimeoutsmtpd(stage: String) throws {
        let home = try TestHome.backup()
        home.control("timeoutsmtpd", "2")
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.hello()
        if stage == "data" {
            try client.beginData()
        } else {
            client.send("MAIL FROM:<")
        }
        let start = Date()
        var closed = false
        // One byte a second for up to 20 s: the test is about time, so it sleeps (by waiting for a close).
        while Date().timeIntervalSince(start) < 20 {
            if client.waitForClose(1) != nil { closed = true; break }
            if !client.send("a") { closed = client.waitForClose(2) != nil; break }
        }
        let elapsed = Date().timeIntervalSince(start)
        #expect(closed, "\(stage): a one-byte-per-second client was served for \(elapsed) s")
        #expect(elapsed < 2 + 5 + 1, "\(stage): closed only after \(elapsed) s")
        #expect(home.todoCount() == 0)
    }

    /// The deadline is per command, not per session: a slow but live client is not cut off.
    @Test func timeoutIsPerCommandNotPerSession() throws {
        let home = try TestHome.backup()
        home.control("timeoutsmtpd", "2")
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.hello()
        let start = Date()
        while Date().timeIntervalSince(start) < 6 {
            usleep(800_000)  // the test is about time
            try client.command("NOOP", 250, "2.0.0")
        }
        try client.beginData()
        // (DATA has one deadline of its own, timeoutsmtpd scaled by a minimum data rate: no drip here.)
        client.send("Subject: slow but live\r\n\r\nbody\r\n.\r\n")
        try client.expect(250, "2.0.0")
        try client.command("QUIT", 221, "2.0.0")
        #expect(home.todoCount() == 1)
    }

    @Test func fiftyConcurrentClientsAreEachQueuedOnce() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let result = try smtplib(server, """
            import threading
            failures = []
            def send(n):
                try:
                    s = smtplib.SMTP(HOST, PORT, timeout=30)
                    s.sendmail('s%d@client.test' % n, ['user@partner.test'], ('Subject: n\\r\\nX-Seq: %d\\r\\n\\r\\nbody %d\\r\\n' % (n, n)).encode())
                    s.quit()
                except Exception as e:
                    failures.append((n, repr(e)))
            threads = [threading.Thread(target=send, args=(n,)) for n in range(50)]
            for t in threads: t.start()
            for t in threads: t.join()
            print(len(failures), failures[:3])
            """)
        #expect(result == "0 []")
        let sequences = home.queuedMessages().compactMap { message -> Int? in
            guard let range = message.originalText.range(of: "X-Seq: ") else { return nil }
            return Int(message.originalText[range.upperBound...].prefix { $0.isNumber })
        }
        #expect(sequences.sorted() == Array(0..<50))
        #expect(waitUntil(10) { server.busySessionProcesses().isEmpty }, "every session ended")
        #expect(server.sessionProcesses().count <= 50, "no more session processes than sessions at once")
    }

    /// A session process serves the next connection once its session ends, and exits after
    /// `SMTPListener.maximumUses` sessions: 130 sessions one after the other take two processes, the first
    /// serving exactly 100, each session with a fresh environment and greeting.
    @Test func sessionProcessesAreReusedAndRetireAfterTheirMaximumUses() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        for number in 0..<130 {
            let client = try server.connect()
            if number % 10 == 0 {
                try client.hello()
                try client.beginData(from: "s\(number)@client.test")
                client.send("Subject: \(number)\r\n\r\nbody \(number)\r\n.\r\n")
                try client.expect(250, "2.0.0")
            } else {
                try client.expect(220)
            }
            try client.command("QUIT", 221, "2.0.0")
            #expect(client.waitForClose(5) != nil, "the client sees the end of session \(number)")
        }
        #expect(home.todoCount() == 13)
        // Each session logs `connect` prefixed with its process's pid.
        #expect(waitUntil(10) { server.log.components(separatedBy: ": connect\n").count - 1 == 130 }, "\(server.log.suffix(500))")
        let pids = server.log.split(separator: "\n").filter { $0.hasSuffix(": connect") }.compactMap { Int32($0.split(separator: " ")[1]) }
        let served = Dictionary(grouping: pids, by: { $0 }).mapValues(\.count)
        #expect(served.count == 2, "\(served)")
        #expect(served[pids[0]] == SMTPListener.maximumUses, "\(served)")
        #expect(waitUntil(10) { !server.sessionProcesses().contains(pids[0]) }, "the first process exited after its last use")
        #expect(server.sessionProcesses().count == 1 && server.busySessionProcesses().isEmpty, "one idle process is left")
    }

    /// A session process that owns the queue commits each message itself (docs/DESIGN.md, "Processes"): no
    /// queue process under it, the 250's `qp` is its own pid, and quail-queue's `Received:` line names it.
    @Test func aSessionCommitsItsMessagesItself() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.hello()
        for number in 1...2 {
            try client.beginData(from: "s\(number)@client.test")
            client.send("Subject: in session \(number)\r\n\r\nbody \(number)\r\n.\r\n")
            let reply = try client.reply()
            #expect(reply.code == 250, "\(reply)")
            let session = try #require(server.busySessionProcesses().first)
            #expect(reply.lines.last?.hasSuffix("qp \(session)") == true, "\(reply)")
            #expect(childProcesses(of: session).isEmpty, "no queue process under the session")
            let stamp = try #require(home.queuedMessages().first { $0.sender == "s\(number)@client.test" }).queueReceived
            #expect(stamp.contains("(quail \(session) invoked by uid \(getuid()))"), "\(stamp)")
        }
        try client.command("QUIT", 221, "2.0.0")
        #expect(home.todoCount() == 2)
    }

    @Test func listensOnIPv6() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home, address: "::1")
        #expect(server.log.contains("listening on [::1]:"), "\(server.log)")
        let client = try server.connect()
        try client.hello("v6.client.test")
        try client.command("MAIL FROM:<s@client.test>", 250, "2.1.0")
        try client.command("RCPT TO:<user@partner.test>", 250, "2.1.5")
        try client.command("RCPT TO:<user@other.test>", 553, "5.7.1")
        try client.command("DATA", 354)
        client.send("Subject: six\r\n\r\nv6\r\n.\r\n")
        try client.expect(250, "2.0.0")
        try client.command("QUIT", 221, "2.0.0")
        #expect(home.todoCount() == 1)
        #expect(home.queuedMessages().first?.smtpdReceived.contains("::1") == true, "\(home.queuedMessages().first?.smtpdReceived ?? "")")
        let run = try swaks(server, ["--to", "user@partner.test", "--from", "s@client.test", "--body", "swaks over v6"])
        #expect(run.status == 0, "\(run.output)")
        #expect(waitUntil(5) { home.todoCount() == 2 })
    }

    @Test func sigtermStopsAcceptingAndLetsSessionsFinish() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.hello()
        try client.command("MAIL FROM:<s@client.test>", 250, "2.1.0")
        try client.command("RCPT TO:<user@partner.test>", 250, "2.1.5")
        kill(server.pid, SIGTERM)
        // New connections are no longer accepted...
        #expect(waitUntil(10) {
            guard let probe = try? server.connect(timeout: 2) else { return true }
            return (try? probe.reply(timeout: 2)) == nil
        }, "still accepting after SIGTERM")
        // ...but the session in progress finishes, and its message is queued.
        try client.command("DATA", 354)
        client.send("Subject: finishing\r\n\r\nfinishing\r\n.\r\n")
        try client.expect(250, "2.0.0")
        try client.command("QUIT", 221, "2.0.0")
        #expect(home.todoCount() == 1)
        #expect(waitUntil(45) { !server.process.isRunning }, "the listener exits once its sessions are done")
        if !server.process.isRunning { #expect(server.process.terminationStatus == 0) }
    }

    @Test func environmentOfEachSessionUnderListen() throws {
        // quail-smtpd --listen sets TCPREMOTEIP (and the rest) for its child; the Received line shows it.
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home)
        let result = try smtplib(server, """
            s = smtplib.SMTP(HOST, PORT, local_hostname='py.client.test', timeout=20)
            print(s.sendmail('s@client.test', ['user@partner.test'], b'Subject: env\\r\\n\\r\\nx\\r\\n'))
            s.quit()
            """)
        #expect(result == "{}")
        let received = try #require(home.queuedMessages().first).smtpdReceived
        #expect(received.contains("py.client.test") && received.contains("127.0.0.1"), "\(received)")
    }
}
