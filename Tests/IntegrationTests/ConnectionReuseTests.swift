import Foundation
import Glibc
import QuailCore
import Testing

/// Kept SMTP sessions (Postfix's connection cache): a backlog for one destination goes over one connection,
/// and a kept session the primary dropped costs a fresh connection, never a message.
@Suite(.serialized) struct ConnectionReuseTests {
    static let primaryHost = "127.0.0.2"

    func backup(port: UInt16, _ name: String = #function) throws -> TestHome {
        let home = try TestHome(name)
        home.control("rcpthosts", "partner.test")
        home.control("smtproutes", "partner.test:[\(Self.primaryHost)]:\(port)")
        return home
    }

    /// Five messages queued before quail-send starts, one delivery at a time: five deliveries, five messages
    /// at the primary, one SMTP session (one EHLO). Forked deliveries and the quail-remote program alike.
    @Test(arguments: [false, true])
    func aBacklogGoesOverOneKeptSession(exec: Bool) throws {
        let port = try LoopbackDNS.unusedPort()
        let primary = try RecordingPrimary(Self.primaryHost, port: port, pipelining: true)
        let home = try backup(port: port, "backlog-\(exec)")
        home.control("concurrencyremote", "1")
        for number in 1...5 {
            #expect(try home.inject("Subject: \(number)\n\nbody \(number)\n", to: ["user@partner.test"]).status == 0)
        }
        let send = try Daemon("quail-send", home: home, environment: exec ? ["QUAIL_EXEC_DELIVERIES": "1"] : [:])
        defer { send.stop() }
        #expect(waitUntil(30) { home.queueIsEmpty() }, "\(send.log)")
        #expect(primary.messages().count == 5)
        #expect(send.log.components(separatedBy: "starting delivery").count - 1 == 5)
        #expect(primary.connections() == 1, "\(send.log)")
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

    /// quail-send's start-up rehearsal of a delivery (RemoteDelivery.rehearse) leaves nothing behind: by its first
    /// `status:` line its scripted server is reaped, and the primary and the smarthost saw no connection. (Its
    /// descriptors are not counted here: quail-send inherits whatever the test process has open meanwhile.)
    @Test func theStartUpRehearsalLeavesNoChildAndMakesNoConnection() throws {
        let port = try LoopbackDNS.unusedPort()
        let primary = try RecordingPrimary(Self.primaryHost, port: port, pipelining: true)
        let home = try backup(port: port)
        home.control("smtproutes", "partner.test:[\(Self.primaryHost)]:\(port)\n:[\(Self.primaryHost)]:\(port)")
        let send = try home.startSend()
        defer { send.stop() }
        let pid = send.process.processIdentifier
        #expect(childProcesses(of: pid).isEmpty, "quail-send has children \(childProcesses(of: pid))")
        #expect(primary.connections() == 0)
        #expect(try home.inject("Subject: after\n\nbody\n", to: ["user@partner.test"]).status == 0)
        #expect(waitUntil(30) { primary.messages().count == 1 }, "\(send.log)")
    }

    /// A delivery forked from quail-send keeps none of quail-send's signal handlers (the fork resets those its
    /// `SignalPipe` set, not all 64): SIGTERM ends it as it ends the quail-remote program, instead of running a
    /// handler that writes into a pipe the child no longer has.
    @Test func aForkedDeliveryHasNoneOfQuailSendsSignalHandlers() throws {
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

    /// quail-remote given a session on descriptor 3 (`$QUAILCONNECTION`): a live one carries the message with
    /// no connection of its own; one the server closed, or spoke on while idle, is left for a fresh connection.
    @Test func quailRemoteUsesAHandedSessionOrConnectsAfresh() throws {
        let port = try LoopbackDNS.unusedPort()
        let primary = try RecordingPrimary(Self.primaryHost, port: port, pipelining: true)
        let home = try backup(port: port)

        let live = try Self.greetedSession(Self.primaryHost, port)
        #expect(primary.connections() == 1)
        #expect(try remote(home, handing: live, "mx \(Self.primaryHost) PIPELINING") == ["K250 2.0.0 queued as 1", "Hup mx \(Self.primaryHost)"])
        #expect(primary.connections() == 1)
        #expect(primary.messages().count == 1)

        for (number, spoken) in [(2, nil), (3, "421 4.4.2 idle too long\r\n")] {
            var ends: [Int32] = [0, 0]
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0)
            if let spoken { _ = write(ends[1], spoken, spoken.utf8.count) }
            close(ends[1])
            let lines = try remote(home, handing: ends[0], "gone.test 127.0.0.9 PIPELINING")
            #expect(lines == ["K250 2.0.0 queued as \(number)", "Hup [\(Self.primaryHost)] \(Self.primaryHost)"])
        }
        #expect(primary.connections() == 3)
        #expect(primary.messages().count == 3)
    }

    /// A TCP connection to `host:port` past its greeting and EHLO, as quail-remote leaves a session it keeps.
    static func greetedSession(_ host: String, _ port: UInt16) throws -> Int32 {
        let connection = try SMTPConnection.open(to: host, port: Int(port), connectTimeout: .seconds(5), replyTimeout: .seconds(5))
        _ = try connection.readReply()
        try connection.send(Array("EHLO test.example\r\n".utf8))
        #expect(try connection.readReply().code == 250)
        return dup(connection.fd)
    }

    /// Runs quail-remote for user@partner.test with `session` as its descriptor 3, described by `text`; its
    /// report lines. Closes `session`.
    func remote(_ home: TestHome, handing session: Int32, _ text: String) throws -> [String] {
        defer { close(session) }
        let message = try FileIO.makePipe()
        let output = try FileIO.makePipe()
        var environment = home.environment.map { "\($0.key)=\($0.value)" }
        environment.append("\(KeptSession.environmentName)=\(text)")
        let pid = try ChildProcess.spawn(Programs.path("quail-remote"), arguments: ["partner.test", "a@b.test", "user@partner.test"],
                                         environment: environment, stdin: message.read, stdout: output.write, descriptor3: session)
        close(message.read)
        close(output.write)
        try FileIO.writeAll(message.write, Array("Subject: handed\n\nover a kept session\n".utf8))
        close(message.write)
        let report = try FileIO.readAll(output.read)
        close(output.read)
        #expect(try ChildProcess.wait(pid) == 0)
        return String(decoding: report, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
