import Foundation
import Glibc
@testable import QuailCore
import Testing

/// Which way a message reaches the queue: a forked `QueueProgram` when this process owns the queue (nothing to
/// gain from quail-queue's setuid), the quail-queue program otherwise, `$QUAILQUEUE` or an explicit program always.
@Suite struct QueueClientTests {
    @Test func ownerOfTheQueueForksInsteadOfRunningAProgram() throws {
        let home = try makeScratchDirectory()
        try FileManager.default.createDirectory(atPath: home + "/queue", withIntermediateDirectories: true)
        let client = QueueClient(home: QuailHome(path: home))
        #expect(client.program == nil)
        #expect(client.layout.root == home + "/queue")
    }

    /// Needs root to give the queue away (the tests run as root; scripts/test says so).
    @Test(.enabled(if: geteuid() == 0)) func aQueueOwnedBySomeoneElseGoesThroughQuailQueue() throws {
        let home = try makeScratchDirectory()
        try FileManager.default.createDirectory(atPath: home + "/queue", withIntermediateDirectories: true)
        #expect(chown(home + "/queue", 65534, 65534) == 0)
        #expect(QueueClient(home: QuailHome(path: home)).program?.hasSuffix("quail-queue") == true)
    }

    @Test func anExplicitProgramIsAlwaysRun() throws {
        let home = try makeScratchDirectory()
        try FileManager.default.createDirectory(atPath: home + "/queue", withIntermediateDirectories: true)
        #expect(QueueClient(program: "/bin/false", home: QuailHome(path: home)).program == "/bin/false")
    }

    @Test func aMissingQueueIsLeftToQuailQueueToReport() throws {
        let home = try makeScratchDirectory()
        #expect(QueueClient(home: QuailHome(path: home)).program?.hasSuffix("quail-queue") == true)
    }

    /// The forked child tells its exit code before it exits; one killed before that is a failure, never a 0.
    @Test func theForkedChildsVerdictAndItsDeath() throws {
        let home = QuailHome(path: try makeScratchDirectory())
        try home.queue.create()
        let client = QueueClient(home: home)
        #expect(client.program == nil)
        let envelope = Envelope(sender: "a@example.test", recipients: ["b@example.test"])
        #expect(client.submit(message: Array("Subject: kept\n\nbody\n".utf8), envelope: envelope) == 0)
        #expect(try FileIO.listDirectory(home.queue.todo).count == 1)

        let doomed = client.begin()
        doomed.write(Array("Subject: lost\n\nbody\n".utf8))
        #expect(kill(doomed.pid, SIGKILL) == 0)
        #expect(doomed.commit(envelope) == 128 + SIGKILL)
        doomed.reap()
        #expect(try FileIO.listDirectory(home.queue.todo).count == 1)
    }

    /// A queue process forked ahead waits for its message; one that died meanwhile says so, and a `$QUAILQUEUE`
    /// program, which may read the session's environment, is never started ahead.
    @Test func aQueueProcessForkedAheadWaitsUntilItDies() throws {
        let home = QuailHome(path: try makeScratchDirectory())
        try home.queue.create()
        #expect(QueueClient(program: "/bin/true", home: home).beginAhead() == nil)
        let ahead = try #require(QueueClient(home: home).beginAhead())
        #expect(ahead.isWaiting())
        #expect(kill(ahead.pid, SIGKILL) == 0)
        var died = false
        for _ in 0..<500 where !died {
            died = !ahead.isWaiting()
            if !died { usleep(10_000) }
        }
        #expect(died)
        let kept = try #require(QueueClient(home: home).beginAhead())
        kept.write(Array("Subject: ahead\n\nbody\n".utf8))
        #expect(kept.commit(Envelope(sender: "a@example.test", recipients: ["b@example.test"])) == 0)
        #expect(try FileIO.listDirectory(home.queue.todo).count == 1)
    }
}
