import Foundation
import Glibc
import QuailCore
import Testing

/// Recovery-aware retry: the backlog of a backup MX reaches the primary the moment it is back.
@Suite(.serialized) struct RecoveryTests {
    static let primaryHost = "127.0.0.2"

    /// A backup for partner.test whose primary is `host:port` (routed by smtproutes, so no DNS is needed here).
    func backup(port: UInt16, probeInterval: Int, _ name: String = #function) throws -> TestHome {
        let home = try TestHome(name)
        home.control("rcpthosts", "partner.test")
        home.control("smtproutes", "partner.test:[\(Self.primaryHost)]:\(port)")
        home.control("probeinterval", String(probeInterval))
        // Without recovery-aware retry, every deferred message would try again each second.
        home.control("retryschedule", "1s")
        return home
    }

    /// Messages held for later: tried and deferred, or parked untried behind the one attempt in flight.
    func heldCount(_ home: TestHome) -> Int {
        let now = Int(Date().timeIntervalSince1970)
        return ((try? home.queueListing()) ?? []).filter { message in
            (message["recipients"] as? [[String: Any]] ?? []).contains { ($0["next_attempt"] as? Int ?? 0) > now }
        }.count
    }

    func startCount(_ send: Daemon) -> Int { send.log.components(separatedBy: "starting delivery").count - 1 }

    /// Queues 30 messages while the primary is down and waits until each is held; while it is down, a stream
    /// of fresh messages costs one connection at a time, not one each.
    func holdThirty(_ home: TestHome, _ send: Daemon) throws {
        for number in 0..<30 {
            #expect(try home.inject("Subject: held \(number)\n\nbody \(number)\n", to: ["user@partner.test"], from: "a@example.org").status == 0)
        }
        #expect(waitUntil(60) { heldCount(home) == 30 }, "\(send.log.suffix(3000))")
        #expect(send.log.contains("is down"))
        #expect(startCount(send) < 30, "\(startCount(send)) attempts for 30 messages to a destination that is down")
    }

    @Test func theBacklogFollowsAFreshMessageWithinAMinute() throws {
        let port = try LoopbackDNS.unusedPort()
        // The default probe interval: the issue's case of 30 held messages, the primary back, one fresh message.
        let home = try backup(port: port, probeInterval: 30)
        let send = try home.startSend()
        try holdThirty(home, send)
        let before = startCount(send)
        usleep(3_000_000)
        #expect(startCount(send) == before, "parked messages made attempts of their own")
        let primary = try RecordingPrimary(Self.primaryHost, port: port)
        #expect(try home.inject("Subject: fresh\n\nnew\n", to: ["user@partner.test"], from: "a@example.org").status == 0)
        let back = Date()
        #expect(waitUntil(60) { primary.messages().count == 31 }, "\(primary.messages().count) at the primary\n\(send.log.suffix(3000))")
        print("recovery: 31 messages at the primary \(String(format: "%.1f", Date().timeIntervalSince(back))) s after it came back with a fresh message")
        #expect(waitUntil(10) { home.queueIsEmpty() })
        send.stop()
    }

    @Test func aProbeFindsThePrimaryWithoutNewMail() throws {
        let port = try LoopbackDNS.unusedPort()
        let home = try backup(port: port, probeInterval: 5)
        let send = try home.startSend()
        try holdThirty(home, send)
        // While down: one attempt per probe interval, not one per message.
        let before = startCount(send)
        usleep(11_000_000)
        #expect(startCount(send) - before <= 3, "\(startCount(send) - before) attempts in 11 s with a 5 s probe interval")
        let primary = try RecordingPrimary(Self.primaryHost, port: port)
        let back = Date()
        #expect(waitUntil(5 + 30) { primary.messages().count == 30 }, "\(primary.messages().count) at the primary\n\(send.log.suffix(3000))")
        print("recovery: 30 held messages at the primary \(String(format: "%.1f", Date().timeIntervalSince(back))) s after it came back")
        #expect(waitUntil(10) { home.queueIsEmpty() })
        send.stop()
    }

    /// `queue/status/`: partner.test's destination reads down, with the refusal as its last answer, while nothing
    /// listens, and quail-qread --summary says so; up once the primary is back and a probe delivered; still up
    /// after more than three probe intervals without mail while quail-send runs (its heartbeat vouches for it);
    /// unknown once quail-send has stopped for longer than three probe intervals.
    @Test func theDestinationStatusFollowsThePrimaryAndTurnsUnknownWhenQuailSendStops() throws {
        let port = try LoopbackDNS.unusedPort()
        let home = try backup(port: port, probeInterval: 1)
        let config = try Configuration(home: QuailHome(path: home.path))
        let destination = config.destination(for: "partner.test")
        func status() -> DestinationStatus {
            DestinationStatus.read(layout: home.queue, destination: destination, probeInterval: 1, now: Int(Date().timeIntervalSince1970))
        }
        #expect(try home.inject("Subject: held\n\nbody\n", to: ["user@partner.test"], from: "a@example.org").status == 0)
        let send = try home.startSend()
        #expect(waitUntil(30) { if case .down(_, let answer) = status() { answer.contains("refused") } else { false } },
                "\(status())\n\(send.log)")

        let summary = try Programs.run("quail-qread", ["--summary"], environment: home.environment)
        let lines = summary.stdout.split(separator: "\n")
        #expect(lines.first?.contains("  status  ") == true, "\(summary.stdout)")
        #expect(lines.contains { $0.hasPrefix("partner.test") && $0.contains(" down ") }, "\(summary.stdout)")
        let json = try Programs.run("quail-qread", ["--summary", "--json"], environment: home.environment)
        let row = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(row["status"] as? String == "down" && (row["status_answer"] as? String ?? "").contains("refused")
                && row["status_since"] is Int, "\(json.stdout)")

        let primary = try RecordingPrimary(Self.primaryHost, port: port)
        #expect(waitUntil(30) { primary.messages().count == 1 }, "\(send.log)")
        #expect(waitUntil(10) { if case .up = status() { true } else { false } }, "\(status())\n\(send.log)")
        usleep(5_000_000)
        #expect({ if case .up = status() { true } else { false } }(), "an idle destination went \(status()) while quail-send ran")

        #expect(send.stop() == 0)
        let beat = try #require(try FileIO.status(home.queue.statusHeartbeat))
        let last = Int(beat.st_mtim.tv_sec)
        #expect({ if case .up = DestinationStatus.read(layout: home.queue, destination: destination, probeInterval: 1, now: last + 3) { true } else { false } }())
        #expect(DestinationStatus.read(layout: home.queue, destination: destination, probeInterval: 1, now: last + 4) == .unknown)
        #expect(waitUntil(10) { status() == .unknown }, "\(status())")
    }

    func flush(_ home: TestHome, _ arguments: String...) throws {
        let outcome = try Programs.run("quail-qctl", ["flush"] + arguments, environment: home.environment)
        #expect(outcome.status == 0, "\(outcome.stderr)")
    }

    /// A message parked behind a primary that is down; smtproutes then sends partner.test to a primary that works,
    /// SIGHUP rereads it, and quail-qctl flush follows. The old destination's next probe is an hour away, so only
    /// the reload's re-sorting and the flush can deliver it within seconds.
    @Test func aFlushAfterARouteChangeDelivers() throws {
        let port = try LoopbackDNS.unusedPort()
        let home = try backup(port: port, probeInterval: 3600)
        #expect(try home.inject("Subject: rerouted\n\nbody\n", to: ["user@partner.test"], from: "a@example.org").status == 0)
        let send = try home.startSend()
        #expect(waitUntil(20) { heldCount(home) == 1 && send.log.contains("is down") }, "\(send.log)")
        let primary = try RecordingPrimary("127.0.0.3", port: port)
        home.control("smtproutes", "partner.test:[127.0.0.3]:\(port)")
        send.signal(SIGHUP)
        #expect(waitUntil(10) { send.log.contains("status: reread control files") }, "\(send.log)")
        try flush(home)
        #expect(waitUntil(10) { primary.messages().count == 1 }, "\(send.log)")
        #expect(waitUntil(10) { home.queueIsEmpty() })
        send.stop()
    }

    /// A flush while the primary is down runs its probe at once: one more connection attempt, not one per
    /// message. Once the primary is back, the next flush's probe succeeds and the whole backlog follows it.
    @Test func aFlushOfADownDestinationProbesOnceAndTheBacklogFollowsItsSuccess() throws {
        let port = try LoopbackDNS.unusedPort()
        let home = try backup(port: port, probeInterval: 3600)
        let send = try home.startSend()
        for number in 0..<5 {
            #expect(try home.inject("Subject: held \(number)\n\nbody\n", to: ["user@partner.test"], from: "a@example.org").status == 0)
        }
        #expect(waitUntil(30) { heldCount(home) == 5 }, "\(send.log)")
        let before = startCount(send)
        try flush(home)
        #expect(waitUntil(10) { startCount(send) == before + 1 }, "\(send.log)")
        #expect(!waitUntil(2) { startCount(send) > before + 1 }, "a flush of a destination that is down tried each message:\n\(send.log)")
        #expect(heldCount(home) == 5)

        let primary = try RecordingPrimary(Self.primaryHost, port: port)
        try flush(home, "partner.test")
        #expect(waitUntil(15) { primary.messages().count == 5 }, "\(send.log)")
        #expect(waitUntil(10) { home.queueIsEmpty() })
        send.stop()
    }

    @Test func aRemoteRefusalBouncesWithTheRemoteText() throws {
        let port = try LoopbackDNS.unusedPort()
        let primary = try RecordingPrimary(Self.primaryHost, port: port)
        let home = try backup(port: port, probeInterval: 5)
        home.control("locals", "example.test")
        #expect(try home.inject("Subject: to a stranger\n\nhello\n", to: ["rejectme@partner.test", "user@partner.test"],
                                from: "sender@example.test").status == 0)
        let send = try home.startSend()
        #expect(waitUntil(30) { home.maildirNew("sender", "example.test").count == 1 }, "\(send.log)")
        #expect(waitUntil(10) { home.queueIsEmpty() })
        send.stop()
        #expect(primary.messages().count == 1)
        let bounce = try #require(FileManager.default.contents(atPath: home.maildirNew("sender", "example.test")[0]))
        let parsed = try python("""
            import email, sys
            m = email.message_from_bytes(sys.stdin.buffer.read())
            status = [p for p in m.walk() if p.get_content_type() == 'message/delivery-status'][0]
            blocks = [b for b in status.get_payload() if b['Final-Recipient']]
            print(m.get_content_type(), len(blocks), blocks[0]['Final-Recipient'], blocks[0]['Status'],
                  blocks[0]['Remote-MTA'], '|', blocks[0]['Diagnostic-Code'])
            """, input: Array(bounce))
        // The primary is an [ip] literal in smtproutes: named as such, not as if the address were a DNS name.
        #expect(parsed == "multipart/report 1 rfc822; rejectme@partner.test 5.1.1 dns; [127.0.0.2] | smtp; 550 5.1.1 no such user rejectme")
        #expect(String(decoding: bounce, as: UTF8.self).contains("<rejectme@partner.test>:\n[127.0.0.2] said: 550 5.1.1 no such user rejectme\n"))
    }

    @Test func theBestMXKeepsTheMailAndSaysWhy() throws {
        let dns = try startDNSMasq(["--mx-host=partner.test,me.partner.test,10", "--host-record=me.partner.test,127.0.0.1"])
        let home = try TestHome()
        home.control("rcpthosts", "partner.test")
        home.control("resolvers", dns.address)
        #expect(try home.inject("Subject: no way out\n\nx\n", to: ["user@partner.test"], from: "a@example.org").status == 0)
        let send = try home.startSend()
        #expect(waitUntil(20) { send.log.contains("this_host_is_the_best_MX_for_partner.test_and_partner.test_is_not_in_locals") },
                "\(send.log)")
        let listing = try home.queueListing()
        #expect(listing.count == 1)
        let recipient = (listing.first?["recipients"] as? [[String: Any]])?.first
        #expect(recipient?["state"] as? String == "pending")
        let lastError = recipient?["last_error"] as? String ?? ""
        #expect(lastError.contains("loops back to myself"))
        send.stop()
    }
}
