import Foundation
import Glibc
import QuailCore
import Testing

/// quail-send end to end: inject, schedule, deliver locally, bounce, restart.
@Suite(.serialized) struct SendTests {
    @Test func injectedMessageLandsInTheMaildirByteIdentical() throws {
        let home = try TestHome.local()
        let original = "Subject: greetings\nTo: user@example.test\n\nHello there.\n.a line with a leading dot\nlast line\n"
        let outcome = try Programs.run("quail-inject", ["user@example.test"], stdin: Array(original.utf8),
                                       environment: home.environment.merging(["QUAILUSER": "alice", "QUAILHOST": "sender.test"]) { $1 })
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let send = try home.startSend()
        #expect(waitUntil { home.maildirNew("user", "example.test").count == 1 }, "\(send.log)")
        #expect(waitUntil { home.queueIsEmpty() })
        let delivered = home.read(home.maildirNew("user", "example.test")[0])
        let lines = delivered.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "Return-Path: <alice@sender.test>")
        #expect(lines[1] == "Delivered-To: user@example.test")
        #expect(lines[2].hasPrefix("Received: (quail "))
        let header = delivered.components(separatedBy: "\n\n")[0]
        #expect(header.contains("\nDate: "))
        #expect(header.contains("\nMessage-ID: <") && header.contains("@sender.test>"))
        #expect(header.contains("\nFrom: alice@sender.test"))
        #expect(header.contains("\nSubject: greetings\nTo: user@example.test"))
        #expect(delivered.hasSuffix("\n\nHello there.\n.a line with a leading dot\nlast line\n"))
        #expect(send.log.contains("new msg ") && send.log.contains("starting delivery 1: msg ") && send.log.contains("end msg "))
        #expect(send.stop() == 0)
    }

    @Test func twoHundredConcurrentInjectionsAreEachDeliveredExactlyOnce() throws {
        let home = try TestHome.local()
        let send = try home.startSend()
        let failures = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 200) { number in
            let message = "Subject: number \(number)\nX-Seq: \(number)\n\nbody \(number)\n"
            let outcome = try? home.inject(message, to: ["user@example.test"])
            if outcome?.status != 0 { failures.update { $0 += 1 } }
        }
        #expect(failures.value == 0)
        #expect(waitUntil(60) { home.queueIsEmpty() }, "\(send.log.suffix(2000))")
        let sequences = home.maildirNew("user", "example.test").compactMap { path -> Int? in
            let text = home.read(path)
            guard let range = text.range(of: "X-Seq: ") else { return nil }
            return Int(text[range.upperBound...].prefix { $0.isNumber })
        }
        #expect(sequences.count == 200)
        #expect(Set(sequences) == Set(0..<200))
        send.stop()
    }

    @Test func survivesRepeatedSIGKILLWithoutLosingMail() throws {
        let home = try TestHome.local()
        home.control("concurrencylocal", "2")
        var injected = 0
        func injectMore(_ count: Int) throws {
            for number in injected..<injected + count {
                let body = "Subject: kill test \(number)\nX-Seq: \(number)\n\n" + String(repeating: "payload \(number)\n", count: 50) + "END \(number)\n"
                #expect(try home.inject(body, to: ["user@example.test"]).status == 0)
            }
            injected += count
        }
        try injectMore(300)
        var partial: [String] = []
        func checkNew() {
            for path in home.maildirNew("user", "example.test") {
                let text = home.read(path)
                if !text.isEmpty && !(text.hasSuffix("\n") && text.contains("\nEND ")) { partial.append(path) }
            }
        }
        var kills = 0
        for round in 0..<40 where kills < 10 || !home.queueIsEmpty() {
            // A fast machine can drain the first 300 within fewer kills: every kill must land on work in flight.
            if home.queueIsEmpty() { try injectMore(100) }
            let send = try Daemon("quail-send", home: home)
            usleep(UInt32(30_000 + (round * 7919) % 120_000))
            send.signal(SIGKILL)
            send.process.waitUntilExit()
            kills += 1
            checkNew()
        }
        #expect(kills >= 10, "the queue drained before enough kills; make the load heavier")
        let send = try home.startSend()
        #expect(waitUntil(60) { home.queueIsEmpty() }, "\(send.log.suffix(2000))")
        #expect(send.stop() == 0)
        checkNew()
        #expect(partial.isEmpty, "partial files in new/: \(partial)")
        var seen: [Int: Int] = [:]
        for path in home.maildirNew("user", "example.test") {
            let text = home.read(path)
            if let range = text.range(of: "X-Seq: "), let number = Int(text[range.upperBound...].prefix { $0.isNumber }) {
                seen[number, default: 0] += 1
            }
        }
        #expect(Set(seen.keys) == Set(0..<injected), "lost: \(Set(0..<injected).subtracting(seen.keys).sorted())")
        let duplicates = seen.values.reduce(0) { $0 + $1 - 1 }
        print("SIGKILL test: \(kills) kills, \(duplicates) duplicate deliveries (allowed: delivery is at least once)")
    }

    @Test func aliasLoopEndsInOneBounce() throws {
        let home = try TestHome.local()
        home.control("aliases", "a@example.test: b@example.test", "b@example.test: a@example.test")
        #expect(try home.inject("Subject: round and round\n\nloop\n", to: ["a@example.test"], from: "sender@example.test").status == 0)
        let send = try home.startSend()
        #expect(waitUntil { home.maildirNew("sender", "example.test").count == 1 }, "\(send.log)")
        #expect(waitUntil { home.queueIsEmpty() })
        send.stop()
        let bounces = home.maildirNew("sender", "example.test")
        #expect(bounces.count == 1)
        #expect(home.maildirNew("a", "example.test").isEmpty && home.maildirNew("b", "example.test").isEmpty)
        let bounce = try #require(FileManager.default.contents(atPath: bounces[0]))
        let parsed = try python("""
            import email, sys
            m = email.message_from_bytes(sys.stdin.buffer.read())
            status = [p for p in m.walk() if p.get_content_type() == 'message/delivery-status'][0]
            recipients = [str(block['Final-Recipient']) for block in status.get_payload() if block['Final-Recipient']]
            returned = [p for p in m.walk() if p.get_content_type() in ('message/rfc822', 'text/rfc822-headers')]
            print(m.get_content_type(), m.get_param('report-type'), m['Return-Path'], ';'.join(recipients), len(returned))
            """, input: Array(bounce))
        #expect(parsed == "multipart/report delivery-status <> rfc822; a@example.test 1")
    }

    @Test func qstatAndQreadReportExactlyWhatIsQueued() throws {
        let home = try TestHome.local()
        #expect(try home.queueCounts() == (0, 0))
        #expect(try home.inject("Subject: one\n\nx\n", to: ["u1@example.test"], from: "s1@example.test").status == 0)
        #expect(try home.inject("Subject: two\n\nx\n", to: ["u2@example.test", "far@remote.test"], from: "").status == 0)
        #expect(try home.queueCounts() == (2, 2))
        let listing = try home.queueListing()
        #expect(listing.count == 2)
        let todo = Set(try FileManager.default.contentsOfDirectory(atPath: home.queue.todo))
        #expect(Set(listing.compactMap { $0["id"] as? String }) == todo)
        let second = try #require(listing.first { ($0["sender"] as? String) == "" })
        let addresses = (second["recipients"] as? [[String: Any]] ?? []).compactMap { $0["address"] as? String }
        #expect(addresses == ["u2@example.test", "far@remote.test"])
        #expect((second["bytes"] as? Int ?? 0) > 0)
        let text = try Programs.run("quail-qstat", environment: home.environment).stdout
        #expect(text == "messages in queue: 2\nmessages in queue but not yet preprocessed: 2\n")
    }

    @Test func remoteRecipientWaitsWithItsLastErrorVisible() throws {
        let home = try TestHome.local()
        // Port 1 on loopback refuses connections, so the remote recipient defers whether or not quail-remote exists yet.
        home.control("smtproutes", "remote.test:[127.0.0.1]:1")
        #expect(try home.inject("Subject: far\n\nx\n", to: ["far@remote.test", "near@example.test"], from: "s@example.test").status == 0)
        let send = try home.startSend()
        #expect(waitUntil { home.maildirNew("near", "example.test").count == 1 })
        var far: [String: Any] = [:]
        #expect(waitUntil {
            let listing = (try? home.queueListing()) ?? []
            far = (listing.first?["recipients"] as? [[String: Any]])?.first { ($0["address"] as? String) == "far@remote.test" } ?? [:]
            return (far["attempts"] as? Int ?? 0) >= 1
        }, "\(send.log)")
        #expect(far["state"] as? String == "pending")
        #expect((far["last_error"] as? String ?? "").isEmpty == false)
        #expect((far["next_attempt"] as? Int ?? 0) > Int(Date().timeIntervalSince1970))
        // The schedule survives a restart: the same message, the same attempt count.
        #expect(send.stop() == 0)
        let again = try home.startSend()
        let listing = try home.queueListing()
        #expect(listing.count == 1)
        let recipients = listing.first?["recipients"] as? [[String: Any]] ?? []
        #expect(recipients.first { ($0["address"] as? String) == "near@example.test" }?["state"] as? String == "delivered")
        #expect(recipients.first { ($0["address"] as? String) == "far@remote.test" }?["attempts"] as? Int == 1)
        again.stop()
    }

    @Test func queueLifetimeEndsInABounceWithTheLastError() throws {
        let home = try TestHome.local()
        home.control("smtproutes", "remote.test:[127.0.0.1]:1")
        home.control("queuelifetime", "0")
        #expect(try home.inject("Subject: doomed\n\nx\n", to: ["far@remote.test"], from: "s@example.test").status == 0)
        let send = try home.startSend()
        #expect(waitUntil { home.maildirNew("s", "example.test").count == 1 }, "\(send.log)")
        #expect(waitUntil { home.queueIsEmpty() })
        send.stop()
        let bounce = home.read(home.maildirNew("s", "example.test")[0])
        #expect(bounce.contains("far@remote.test"))
        #expect(bounce.contains("in the queue too long"))
    }

    @Test func signalsReloadAndAlarmAndTerm() throws {
        let home = try TestHome.local()
        let send = try home.startSend()
        #expect(send.log.contains("status: local 0/10 remote 0/20"))
        home.control("concurrencylocal", "3")
        send.signal(SIGHUP)
        #expect(waitUntil { send.log.contains("status: reread control files") })
        #expect(try home.inject("Subject: x\n\nx\n", to: ["u@example.test"]).status == 0)
        #expect(waitUntil { send.log.contains("/3 remote") }, "\(send.log)")
        // A broken control file on reload keeps the previous configuration.
        home.control("concurrencylocal", "lots")
        send.signal(SIGHUP)
        #expect(waitUntil { send.log.contains("keeping the previous configuration: control/concurrencylocal line 1") })
        #expect(try home.inject("Subject: y\n\ny\n", to: ["u@example.test"]).status == 0)
        #expect(waitUntil { home.maildirNew("u", "example.test").count == 2 })
        #expect(send.stop() == 0)
    }

    @Test func brokenControlFileAtStartIsAClearFatalError() throws {
        let home = try TestHome.local()
        home.control("queuelifetime", "a week")
        let outcome = try Programs.run("quail-send", environment: home.environment)
        #expect(outcome.status == 111)
        #expect(outcome.stderr.contains("control/queuelifetime line 1"))
    }

    @Test func injectionDebrisIsRemovedAndNeverDelivered() throws {
        let home = try TestHome.local()
        // A dead writer's half-written file in tmp/, and a todo/ file with a damaged envelope.
        let debris = home.queue.tmp + "/999999.1.0"
        try #require(FileManager.default.createFile(atPath: debris, contents: Data("Fa@b\0Tuser@example.test\0\0Subject: half".utf8)))
        try #require(FileManager.default.createFile(atPath: home.queue.todo + "/12345", contents: Data("Fa@b\0Tuser@example.test\0".utf8)))
        let send = try home.startSend()
        #expect(!FileManager.default.fileExists(atPath: debris))
        #expect(send.log.contains("damaged envelope"))
        #expect(try home.inject("Subject: real\n\nx\n", to: ["user@example.test"]).status == 0)
        #expect(waitUntil { home.maildirNew("user", "example.test").count == 1 })
        #expect(home.read(home.maildirNew("user", "example.test")[0]).contains("Subject: real"))
        send.stop()
    }
}

/// A value shared between threads.
final class Locked<Value>: @unchecked Sendable {
    private var stored: Value
    private let lock = NSLock()
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func update(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}
