import Foundation
import Glibc
import QuailCore
import Testing

/// quail-qctl against a running quail-send (requests through `lock/control`) and a stopped one (edits under the
/// spool lock), and quail-qread --summary. Every count is checked at the primary and in the queue: an operation
/// must lose nothing it was not asked to delete and deliver nothing twice.
@Suite(.serialized) struct QueueControlTests {
    static let primaryHost = "127.0.0.2"

    /// A backup for partner.test (and other.test) whose primary is `port`, routed by smtproutes, no DNS.
    func backup(port: UInt16, _ name: String = #function) throws -> TestHome {
        let home = try TestHome(name)
        home.control("rcpthosts", "partner.test", "other.test")
        home.control("locals", "example.test")
        home.control("smtproutes", "partner.test:[\(Self.primaryHost)]:\(port)", "other.test:[\(Self.primaryHost)]:\(port)")
        home.control("retryschedule", "1s")
        home.control("probeinterval", "1")
        return home
    }

    /// Injects one message and returns its queue id (quail-send must not be running yet, or it is taken in).
    func inject(_ home: TestHome, _ subject: String, to recipients: [String], from sender: String = "a@example.org") throws -> QueueID {
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: home.queue.todo))
        #expect(try home.inject("Subject: \(subject)\n\nbody of \(subject)\n", to: recipients, from: sender).status == 0)
        let added = Set(try FileManager.default.contentsOfDirectory(atPath: home.queue.todo)).subtracting(before)
        return try #require(added.first.flatMap { QueueID($0) })
    }

    func qctl(_ home: TestHome, _ arguments: String...) throws -> Programs.Outcome {
        try Programs.run("quail-qctl", arguments, environment: home.environment)
    }

    func queued(_ home: TestHome) -> [QueueID: [String: Any]] {
        Dictionary(((try? home.queueListing()) ?? []).map { (QueueID($0["id"] as? String ?? "") ?? 0, $0) }) { $1 }
    }

    func subjects(_ primary: GatedPrimary) -> [String] {
        primary.messages().map { data in
            String(decoding: data, as: UTF8.self).components(separatedBy: "\r\n").first { $0.hasPrefix("Subject: ") }.map { String($0.dropFirst(9)) } ?? ""
        }.sorted()
    }

    @Test func holdDeleteReleaseAndFlushWhileQuailSendIsBusy() throws {
        let port = try LoopbackDNS.unusedPort()
        let primary = try GatedPrimary(Self.primaryHost, port: port)
        let home = try backup(port: port)
        // One delivery at a time: the first sits in DATA at the gated primary, the others wait for its slot.
        home.control("concurrencyremote", "1")
        var ids: [QueueID: String] = [:]
        for name in ["one", "two", "three", "four"] { ids[try inject(home, name, to: ["user@partner.test"])] = name }
        let send = try home.startSend()
        #expect(waitUntil(20) { primary.busy() == 1 }, "\(send.log)")
        let runningID = try #require(send.log.firstMatch(of: /starting delivery 1: msg (\d+)/).flatMap { QueueID($0.1) })
        let waiting = ids.keys.filter { $0 != runningID }.sorted()
        let (held, deleted, kept) = (waiting[0], waiting[1], waiting[2])

        var outcome = try qctl(home, "hold", "#\(held)")
        #expect(outcome.status == 0 && outcome.stdout == "msg #\(held): held\n", "\(outcome.stderr)")
        #expect(queued(home)[held]?["held"] as? Bool == true)
        outcome = try qctl(home, "delete", String(deleted))
        #expect(outcome.status == 0 && outcome.stdout == "msg #\(deleted): deleted\n", "\(outcome.stderr)\n\(send.log)")
        #expect(queued(home)[deleted] == nil)
        outcome = try qctl(home, "flush", "partner.test")
        #expect(outcome.status == 0, "\(outcome.stderr)")
        // The running one: the delete is taken at once and takes effect when its delivery ends.
        outcome = try qctl(home, "--timeout", "1", "delete", String(runningID))
        #expect(outcome.status == 111 && outcome.stderr.contains("still running"), "\(outcome.stdout)\(outcome.stderr)")
        #expect(queued(home)[runningID] != nil)

        // The primary defers that delivery: the message is deleted, not retried.
        primary.open(replying: "defer")
        #expect(waitUntil(20) { queued(home)[runningID] == nil }, "\(send.log)")
        primary.open(replying: "accept")
        #expect(waitUntil(20) { subjects(primary) == [ids[kept]!] }, "\(subjects(primary))\n\(send.log)")

        // A flush does not move a held message; a message injected after the flush goes, and the held one stays.
        #expect(try qctl(home, "flush").status == 0)
        let late = try home.inject("Subject: five\n\nlate\n", to: ["user@partner.test"], from: "a@example.org")
        #expect(late.status == 0)
        #expect(waitUntil(20) { subjects(primary) == ["five", ids[kept]!].sorted() }, "\(subjects(primary))\n\(send.log)")
        #expect(queued(home).keys.sorted() == [held])
        #expect(!send.log.contains("msg \(held) to remote"), "\(send.log)")

        outcome = try qctl(home, "release", "#\(held)")
        #expect(outcome.status == 0 && outcome.stdout.hasPrefix("msg #\(held): released"), "\(outcome.stderr)")
        #expect(waitUntil(20) { home.queueIsEmpty() }, "\(send.log)")
        #expect(subjects(primary) == ["five", ids[held]!, ids[kept]!].sorted(), "each exactly once, the deleted ones never")
        for line in ["qctl msg \(held): held", "qctl msg \(deleted): deleted",
                     "qctl msg \(runningID): deleted once its running delivery ends", "qctl msg \(held): released"] {
            #expect(send.log.contains(line), "\(line)")
        }
        #expect(!send.log.contains("bounce msg"))
        #expect(send.stop() == 0)
    }

    @Test func deleteByDomainAndBySenderWithAndWithoutBounce() throws {
        // Nothing listens on the primary's port: every remote message waits, its destination down.
        let home = try backup(port: try LoopbackDNS.unusedPort())
        let partnerOnly = try inject(home, "p1", to: ["a@partner.test"], from: "x@s1.test")
        let partnerToo = try inject(home, "p2", to: ["b@partner.test"], from: "y@s2.test")
        let otherOnly = try inject(home, "o1", to: ["c@other.test"], from: "x@s1.test")
        let mixed = try inject(home, "mixed", to: ["d@partner.test", "e@other.test"], from: "z@s3.test")
        let bounced = try inject(home, "bounced", to: ["f@other.test"], from: "sender@example.test")
        let send = try home.startSend()
        let now = Int(Date().timeIntervalSince1970)
        #expect(waitUntil(30) {
            let listing = queued(home)
            return listing.count == 5 && listing.values.allSatisfy { message in
                (message["recipients"] as? [[String: Any]] ?? []).allSatisfy { ($0["next_attempt"] as? Int ?? 0) > now }
            }
        }, "\(send.log)")

        let summary = try Programs.run("quail-qread", ["--summary"], environment: home.environment)
        let lines = summary.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("domain") == true && lines.count == 3, "\(summary.stdout)")
        #expect(lines.contains { $0.hasPrefix("other.test") && $0.contains(" 3 ") && $0.contains("Connection refused") }, "\(summary.stdout)")
        #expect(lines.contains { $0.hasPrefix("partner.test") && $0.contains(" 3 ") }, "\(summary.stdout)")
        let json = try Programs.run("quail-qread", ["--summary", "--json"], environment: home.environment)
        let rows = try json.stdout.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:] }
        #expect(rows.count == 2 && rows.allSatisfy { $0["messages"] as? Int == 3 && ($0["last_error"] as? String ?? "").contains("refused") })

        var outcome = try qctl(home, "delete", "--domain", "partner.test")
        #expect(outcome.status == 0 && outcome.stdout == "deleted the matching recipients of 3 messages\n", "\(outcome.stderr)")
        var listing = queued(home)
        #expect(listing[partnerOnly] == nil && listing[partnerToo] == nil)
        let left = (listing[mixed]?["recipients"] as? [[String: Any]] ?? []).map { "\($0["address"]!) \($0["state"]!)" }
        #expect(left == ["d@partner.test deleted", "e@other.test pending"])

        outcome = try qctl(home, "delete", "--sender", "<X@S1.test>")
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(queued(home)[otherOnly] == nil)
        #expect(!send.log.contains("bounce msg"), "no bounce without --bounce")

        outcome = try qctl(home, "delete", "--bounce", "#\(bounced)")
        #expect(outcome.status == 0 && outcome.stdout == "msg #\(bounced): deleted, bounce queued\n", "\(outcome.stderr)\n\(send.log)")
        #expect(waitUntil(20) { home.maildirNew("sender", "example.test").count == 1 }, "\(send.log)")
        #expect(home.read(home.maildirNew("sender", "example.test")[0]).contains("deleted from the queue by the administrator"))
        listing = queued(home)
        #expect(listing.keys.sorted() == [mixed], "\(listing)")
        outcome = try qctl(home, "delete", "--domain", "partner.test")
        #expect(outcome.status == 0 && outcome.stdout.hasPrefix("nothing to delete"))
        #expect(try qctl(home, "hold", "999999999").status == 100)
        #expect(send.stop() == 0)
    }

    @Test func withoutQuailSendQctlEditsTheSpoolAndQuailSendRespectsIt() throws {
        let port = try LoopbackDNS.unusedPort()
        let home = try backup(port: port)
        let held = try inject(home, "held", to: ["user@partner.test"])
        let deleted = try inject(home, "deleted", to: ["user@partner.test"])
        let free = try inject(home, "free", to: ["user@partner.test"])
        let bounced = try inject(home, "bounced", to: ["user@partner.test"], from: "sender@example.test")

        var outcome = try qctl(home, "hold", "#\(held)")
        #expect(outcome.status == 0 && outcome.stdout.contains("held (quail-send is not running)"), "\(outcome.stderr)")
        #expect(try qctl(home, "delete", "#\(deleted)").status == 0)
        #expect(try qctl(home, "delete", "--bounce", "#\(bounced)").status == 0)
        #expect(try qctl(home, "flush").status == 0)
        var listing = queued(home)
        #expect(listing[held]?["held"] as? Bool == true && listing[deleted] == nil && listing[free] != nil)

        // A quail-send started now waits for a lock held elsewhere, then honours what was done.
        guard let lock = try QueueLock.attempt(home.queue) else {
            Issue.record("the spool lock is busy with no quail-send running")
            return
        }
        let send = try Daemon("quail-send", home: home)
        #expect(waitUntil(20) { send.log.contains("waiting for the queue lock") }, "\(send.log)")
        outcome = try qctl(home, "--timeout", "1", "release", "#\(held)")
        #expect(outcome.status == 111 && outcome.stderr.contains("nothing was done"), "\(outcome.stderr)")
        #expect(!send.log.contains("new msg"), "quail-send read the spool without the lock")
        lock.release()

        let primary = try GatedPrimary(Self.primaryHost, port: port)
        primary.open(replying: "accept")
        #expect(waitUntil(20) { primary.messages().count == 1 }, "\(send.log)")
        #expect(waitUntil(20) { home.maildirNew("sender", "example.test").count == 1 }, "\(send.log)")
        #expect(waitUntil(20) { queued(home).keys.sorted() == [held] }, "\(send.log)")
        #expect(subjects(primary) == ["free"])
        listing = queued(home)
        #expect(listing[held]?["held"] as? Bool == true)

        outcome = try qctl(home, "release", String(held))
        #expect(outcome.status == 0 && outcome.stdout.hasPrefix("msg #\(held): released"), "\(outcome.stderr)")
        #expect(waitUntil(20) { home.queueIsEmpty() }, "\(send.log)")
        #expect(subjects(primary) == ["free", "held"])
        #expect(send.stop() == 0)
    }

    /// A restarted quail-send reads what its state records' mtimes say is due first (docs/BENCHMARKS.md, P4): the
    /// records quail-send saved carry their next attempt as mtime, quail-qctl's edit carries its own, and the one
    /// message made due while quail-send was stopped goes out alone, the others at their own time or a flush.
    @Test func aRestartDeliversWhatIsDueFirstAndReadsTheRest() throws {
        let port = try LoopbackDNS.unusedPort()
        let home = try backup(port: port)
        // Parked messages wait for the next probe, an hour away: a real next attempt for every record.
        home.control("probeinterval", "3600")
        var waiting: [QueueID] = []
        for number in 0..<12 { waiting.append(try inject(home, "waiting \(number)", to: ["user@partner.test"])) }
        let flushed = try inject(home, "flushed", to: ["user@other.test"])
        var send = try home.startSend()
        let now = Int(Date().timeIntervalSince1970)
        #expect(waitUntil(20) { queued(home).values.allSatisfy { ($0["recipients"] as? [[String: Any]])?.first?["next_attempt"] as? Int ?? 0 > now + 3000 } },
                "\(send.log)")
        #expect(send.stop() == 0)
        for (id, message) in queued(home) {
            let next = (message["recipients"] as? [[String: Any]])?.first?["next_attempt"] as? Int
            let info = try #require(try FileIO.status(home.queue.statePath(id)))
            #expect(Int(info.st_mtim.tv_sec) == next, "message \(id)")
        }

        #expect(try qctl(home, "flush", "other.test").status == 0)
        let editedAt = try #require(try FileIO.status(home.queue.statePath(flushed))).st_mtim.tv_sec
        #expect(abs(editedAt - Int(Date().timeIntervalSince1970)) <= 2)
        let primary = try GatedPrimary(Self.primaryHost, port: port)
        primary.open(replying: "accept")
        send = try home.startSend()
        #expect(waitUntil(20) { primary.messages().count == 1 }, "\(send.log)")
        #expect(waitUntil(20) { send.log.contains("status: read the state of all 13 queued messages") }, "\(send.log)")
        #expect(send.log.contains("status: 13 queued messages; reading their state, the earliest due first"))
        usleep(500_000)
        #expect(subjects(primary) == ["flushed"])
        #expect(Set(queued(home).keys) == Set(waiting))

        #expect(try qctl(home, "flush").status == 0)
        #expect(waitUntil(30) { home.queueIsEmpty() }, "\(send.log)")
        #expect(subjects(primary) == (["flushed"] + (0..<12).map { "waiting \($0)" }).sorted())
        #expect(send.stop() == 0)
    }

    @Test func requeueClearsDownMarksAndSendsEverythingNow() throws {
        let port = try LoopbackDNS.unusedPort()
        let home = try backup(port: port)
        home.control("probeinterval", "3600")
        _ = try inject(home, "waiting", to: ["user@partner.test"])
        let send = try home.startSend()
        #expect(waitUntil(20) { send.log.contains("is down") }, "\(send.log)")
        let primary = try GatedPrimary(Self.primaryHost, port: port)
        primary.open(replying: "accept")
        let outcome = try qctl(home, "requeue")
        #expect(outcome.status == 0 && outcome.stdout.hasPrefix("requeue: sent to quail-send"), "\(outcome.stderr)")
        #expect(waitUntil(20) { home.queueIsEmpty() }, "\(send.log)")
        #expect(subjects(primary) == ["waiting"])
        #expect(send.log.contains("status: reread control files"))
        #expect(send.stop() == 0)
    }
}

/// An aiosmtpd primary whose DATA waits at a gate: until the test opens it, each delivery hangs in DATA (so
/// quail-send is busy); then the gate's word decides the reply, `accept` (250, message kept) or `defer` (451).
final class GatedPrimary {
    let server: SpawnedServer
    let directory: String

    init(_ host: String, port: UInt16) throws {
        directory = NSTemporaryDirectory() + "quail-gated-\(host)-\(port)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        server = try SpawnedServer("/usr/bin/env", ["python3", "-c", Self.script, host, String(port), directory], address: "\(host):\(port)",
                                   readyLine: "ready")
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Sets the gate's word; written by rename so the server never reads half of it.
    func open(replying word: String) {
        #expect(FileManager.default.createFile(atPath: directory + "/gate.tmp", contents: Data(word.utf8)), "the gate is set")
        rename(directory + "/gate.tmp", directory + "/gate")
    }

    /// How many deliveries have reached DATA so far.
    func busy() -> Int { (try? String(contentsOfFile: directory + "/busy", encoding: .utf8))?.count ?? 0 }

    /// The DATA of every accepted message.
    func messages() -> [Data] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".eml") }
        return names.sorted().compactMap { FileManager.default.contents(atPath: directory + "/" + $0) }
    }

    static let script = #"""
        import asyncio, os, sys, time
        from aiosmtpd.controller import Controller
        host, port, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        gate = os.path.join(directory, "gate")

        class Handler:
            count = 0
            async def handle_DATA(self, server, session, envelope):
                with open(os.path.join(directory, "busy"), "a") as f:
                    f.write("x")
                while not os.path.exists(gate):
                    await asyncio.sleep(0.05)
                with open(gate) as f:
                    word = f.read().strip()
                if word != "accept":
                    return "451 4.3.0 try again later"
                Handler.count += 1
                stem = os.path.join(directory, "%06d" % Handler.count)
                with open(stem + ".tmp", "wb") as f:
                    f.write(envelope.original_content)
                os.rename(stem + ".tmp", stem + ".eml")
                return "250 2.0.0 queued as %d" % Handler.count

        controller = Controller(Handler(), hostname=host, port=port)
        controller.start()
        print("ready", flush=True)
        while True:
            time.sleep(3600)
        """#
}
