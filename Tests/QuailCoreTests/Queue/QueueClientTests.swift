import Foundation
import Glibc
@testable import QuailCore
import Testing

/// Which way a message reaches the queue: a quail-smtpd session that owns the queue commits it itself, through
/// quail-queue's code; everyone else runs the quail-queue program; `$QUAILQUEUE` or an explicit program always.
@Suite struct QueueClientTests {
    @Test func aSessionThatOwnsTheQueueCommitsItself() throws {
        let home = try makeScratchDirectory()
        try FileManager.default.createDirectory(atPath: home + "/queue", withIntermediateDirectories: true)
        let client = QueueClient(home: QuailHome(path: home), inSession: true)
        #expect(client.program == nil)
        #expect(client.layout.root == home + "/queue")
        // Forwards, quail-inject and the like go through the program even as the owner.
        #expect(QueueClient(home: QuailHome(path: home)).program?.hasSuffix("quail-queue") == true)
    }

    /// Needs root to give the queue away (the tests run as root; scripts/test says so).
    @Test(.enabled(if: geteuid() == 0)) func aQueueOwnedBySomeoneElseGoesThroughQuailQueue() throws {
        let home = try makeScratchDirectory()
        try FileManager.default.createDirectory(atPath: home + "/queue", withIntermediateDirectories: true)
        #expect(chown(home + "/queue", 65534, 65534) == 0)
        #expect(QueueClient(home: QuailHome(path: home), inSession: true).program?.hasSuffix("quail-queue") == true)
    }

    @Test func anExplicitProgramIsAlwaysRun() throws {
        let home = try makeScratchDirectory()
        try FileManager.default.createDirectory(atPath: home + "/queue", withIntermediateDirectories: true)
        #expect(QueueClient(program: "/bin/false", home: QuailHome(path: home), inSession: true).program == "/bin/false")
    }

    @Test func aMissingQueueIsLeftToQuailQueueToReport() throws {
        let home = try makeScratchDirectory()
        #expect(QueueClient(home: QuailHome(path: home), inSession: true).program?.hasSuffix("quail-queue") == true)
    }

    /// The in-session commit is quail-queue's: its `Received:` line, its checks of the envelope and its exit codes;
    /// an aborted message and a refused envelope leave nothing queued and no debris.
    @Test func theInSessionCommitIsQuailQueues() throws {
        let home = QuailHome(path: try makeScratchDirectory())
        try home.queue.create()
        let client = QueueClient(home: home, inSession: true)
        let envelope = Envelope(sender: "a@example.test", recipients: ["b@example.test"])
        let kept = client.begin()
        #expect(kept.pid == getpid())
        kept.write(Array("Subject: kept\n\nbody\n".utf8))
        #expect(kept.commit(envelope) == 0)
        let queued = try FileIO.listDirectory(home.queue.todo)
        #expect(queued.count == 1)
        let text = String(decoding: try #require(try FileIO.readFile(home.queue.todo + "/" + queued[0])), as: UTF8.self)
        #expect(text.contains("Received: (quail \(getpid()) invoked by uid \(getuid())); "))
        #expect(text.hasSuffix("Subject: kept\n\nbody\n"))

        let aborted = client.begin()
        aborted.write(Array("Subject: lost\n\nbody\n".utf8))
        aborted.abort()
        let tooLong = client.begin()
        tooLong.write(Array("Subject: refused\n\nbody\n".utf8))
        let long = String(repeating: "x", count: Envelope.maximumAddressLength + 1) + "@example.test"
        #expect(tooLong.commit(Envelope(sender: "a@example.test", recipients: [long])) == QueueFailure.addressTooLong.rawValue)
        #expect(try FileIO.listDirectory(home.queue.todo).count == 1)
        #expect(try FileIO.listDirectory(home.queue.tmp).isEmpty)
    }
}
