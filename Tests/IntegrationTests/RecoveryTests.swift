import Foundation
import Glibc
import QuailCore
import Testing

/// Recovery-aware retry: the backlog of a backup MX reaches the primary the moment it is back.
@Suite(.serialized) struct RecoveryTests {
    /// A backup for partner.test whose primary is `primary` (routed by smtproutes, so no DNS is needed here).
    func backup(primary: TestPrimary, probeInterval: Int, _ name: String = #function) throws -> TestHome {
        let home = try TestHome(name)
        home.control("rcpthosts", "partner.test")
        home.control("smtproutes", "partner.test:[\(primary.host)]:\(primary.port)")
        home.control("probeinterval", String(probeInterval))
        // Without recovery-aware retry, every deferred message would try again each second.
        home.control("retryschedule", "1s")
        return home
    }

    func deferredCount(_ home: TestHome) -> Int {
        ((try? home.queueListing()) ?? []).filter { message in
            (message["recipients"] as? [[String: Any]] ?? []).contains { ($0["attempts"] as? Int ?? 0) >= 1 }
        }.count
    }

    func startCount(_ send: Daemon) -> Int { send.log.components(separatedBy: "starting delivery").count - 1 }

    /// Queues 30 messages while the primary is down and waits until each has been tried once.
    func holdThirty(_ home: TestHome, _ send: Daemon) throws {
        for number in 0..<30 {
            #expect(try home.inject("Subject: held \(number)\n\nbody \(number)\n", to: ["user@partner.test"], from: "a@example.org").status == 0)
        }
        #expect(waitUntil(60) { deferredCount(home) == 30 }, "\(send.log.suffix(3000))")
        #expect(send.log.contains("is down"))
    }

    @Test func aFreshMessageBringsTheWholeBacklog() throws {
        let primary = TestPrimary(directory: NSTemporaryDirectory() + "primary-\(getpid())-fresh")
        // A probe interval far beyond the test: only the fresh message can find the primary back.
        let home = try backup(primary: primary, probeInterval: 3600)
        let send = try home.startSend()
        try holdThirty(home, send)
        let before = startCount(send)
        usleep(3_000_000)
        #expect(startCount(send) == before, "parked messages made attempts of their own")
        try primary.start()
        #expect(try home.inject("Subject: fresh\n\nnew\n", to: ["user@partner.test"], from: "a@example.org").status == 0)
        #expect(waitUntil(60) { primary.messages.count == 31 }, "\(primary.messages.count) at the primary\n\(send.log.suffix(3000))")
        #expect(waitUntil(10) { home.queueIsEmpty() })
        send.stop()
    }

    @Test func aProbeFindsThePrimaryWithoutNewMail() throws {
        let primary = TestPrimary(directory: NSTemporaryDirectory() + "primary-\(getpid())-probe")
        let home = try backup(primary: primary, probeInterval: 5)
        let send = try home.startSend()
        try holdThirty(home, send)
        // While down: one attempt per probe interval, not one per message.
        let before = startCount(send)
        usleep(11_000_000)
        #expect(startCount(send) - before <= 3, "\(startCount(send) - before) attempts in 11 s with a 5 s probe interval")
        try primary.start()
        let back = Date()
        #expect(waitUntil(5 + 30) { primary.messages.count == 30 }, "\(primary.messages.count) at the primary\n\(send.log.suffix(3000))")
        print("recovery: 30 held messages at the primary \(String(format: "%.1f", Date().timeIntervalSince(back))) s after it came back")
        #expect(waitUntil(10) { home.queueIsEmpty() })
        send.stop()
    }
}
