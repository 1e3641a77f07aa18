import Foundation
import Glibc
import QuailCore
import Testing

/// quail-queue with qmail-queue's interface: message on fd 0, envelope on fd 1.
@Suite struct QueueProgramTests {
    /// Runs quail-queue with `message` on fd 0 and `envelope` on fd 1 (a pipe, as qmail's callers give it).
    func enqueue(_ message: String, envelope: [UInt8], home: TestHome) throws -> Int32 {
        try enqueueShowingPid(message, envelope: envelope, home: home).status
    }

    /// The same, with quail-queue's pid (the `qp` of quail-send's log).
    func enqueueShowingPid(_ message: String, envelope: [UInt8], home: TestHome) throws -> (status: Int32, pid: pid_t) {
        let messagePipe = try FileIO.makePipe(), envelopePipe = try FileIO.makePipe()
        var environment = ChildProcess.currentEnvironment().filter { !$0.hasPrefix("QUAIL_HOME=") }
        environment.append("QUAIL_HOME=\(home.path)")
        let pid = try ChildProcess.spawn(Programs.path("quail-queue"), arguments: [], environment: environment,
                                         stdin: messagePipe.read, stdout: envelopePipe.read)
        close(messagePipe.read)
        close(envelopePipe.read)
        signal(SIGPIPE, SIG_IGN)
        try? FileIO.writeAll(messagePipe.write, message)
        close(messagePipe.write)
        try? FileIO.writeAll(envelopePipe.write, envelope)
        close(envelopePipe.write)
        return (try ChildProcess.wait(pid), pid)
    }

    func files(_ directory: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    }

    @Test func commitsEnvelopeThenReceivedLineThenMessage() throws {
        let home = try TestHome()
        let message = "Subject: hello\n\nbody line\n"
        let status = try enqueue(message, envelope: Array("Fa@b.test\0Tc@quail.test\0\0".utf8), home: home)
        #expect(status == 0)
        let queued = files(home.queue.todo)
        try #require(queued.count == 1)
        let bytes = try #require(FileManager.default.contents(atPath: home.queue.todo + "/" + queued[0]))
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("Fa@b.test\0Tc@quail.test\0\0Received: (quail "))
        #expect(text.hasSuffix("\n" + message))
        // The id is the file's inode, as qmail's queue numbers are.
        var info = stat()
        stat(home.queue.todo + "/" + queued[0], &info)
        #expect(String(info.st_ino) == queued[0])
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(files(home.queue.tmp).isEmpty)
    }

    /// An envelope larger than one read of quail-queue's (64 KiB) is committed whole.
    @Test func anEnvelopeOfThreeThousandRecipientsIsCommittedWhole() throws {
        let home = try TestHome()
        let envelope = "Fa@b.test\0" + (0..<3000).map { "Trecipient-\($0)@quail.test\0" }.joined() + "\0"
        #expect(envelope.utf8.count > 65536)
        #expect(try enqueue("Subject: many\n\nbody\n", envelope: Array(envelope.utf8), home: home) == 0)
        let queued = files(home.queue.todo)
        try #require(queued.count == 1)
        let bytes = try #require(FileManager.default.contents(atPath: home.queue.todo + "/" + queued[0]))
        #expect(Array(bytes.prefix(envelope.utf8.count)) == Array(envelope.utf8))
    }

    /// quail-send logs each new message's `qp` and `uid` from its `Received:` line, which comes with the read of
    /// the envelope (SpoolFile.read), even when the envelope ends just before the first read does.
    @Test func theLogFindsTheQueueProcessBehindAnEnvelopeThatFillsItsRead() throws {
        let home = try TestHome.local()
        var recipients: [String] = []
        func envelope(_ sender: String) -> String { "F\(sender)\0" + recipients.map { "T\($0)\0" }.joined() + "\0" }
        while envelope("a@b.test").utf8.count + 30 < 4096 - 10 { recipients.append("user@example.test") }
        var sender = "a@b.test"
        while envelope(sender).utf8.count < 4096 - 10 { sender = "x" + sender }
        try #require(envelope(sender).utf8.count == 4096 - 10)
        let (status, pid) = try enqueueShowingPid("Subject: full read\n\nbody\n", envelope: Array(envelope(sender).utf8), home: home)
        #expect(status == 0)
        let send = try home.startSend()
        defer { send.stop() }
        #expect(waitUntil(20) { send.log.contains(" qp \(pid) uid \(getuid())") }, "\(send.log)")
    }

    static let badEnvelopes: [(String, Int32)] = [
        ("Fa@b\0Tc@d\0", 91),  // end of file before the final NUL
        ("Xa@b\0Tc@d\0\0", 91),
        ("Fa@b\0\0", 91),  // no recipient
        ("Fa@b\0T" + String(repeating: "x", count: 1200) + "@d\0\0", 11),
    ]

    @Test(arguments: badEnvelopes)
    func refusesBadEnvelopesAndLeavesNothing(envelope: String, expected: Int32) throws {
        let home = try TestHome()
        #expect(try enqueue("Subject: x\n\nbody\n", envelope: Array(envelope.utf8), home: home) == expected)
        #expect(files(home.queue.todo).isEmpty)
        #expect(files(home.queue.tmp).isEmpty)
    }

    @Test func missingQueueIsATemporaryFailure() throws {
        let home = try TestHome()
        try FileManager.default.removeItem(atPath: home.queue.root)
        let status = try enqueue("x\n", envelope: Array("Fa@b\0Tc@d\0\0".utf8), home: home)
        #expect(status == 62)
        #expect(!QueueFailure(rawValue: status)!.isPermanent)
    }

    @Test func unwritableTodoFailsAndLeavesNoDebris() throws {
        let home = try TestHome()
        // Root ignores permissions, so make todo/ a plain file: the commit's rename must fail.
        try FileManager.default.removeItem(atPath: home.queue.todo)
        try #require(FileManager.default.createFile(atPath: home.queue.todo, contents: Data()))
        let status = try enqueue("x\n", envelope: Array("Fa@b\0Tc@d\0\0".utf8), home: home)
        #expect(status == 66)
        #expect(files(home.queue.tmp).isEmpty)
    }

    @Test func largeMessageSpillsAndArrivesWhole() throws {
        let home = try TestHome()
        let line = String(repeating: "0123456789", count: 7) + "\n"
        let message = "Subject: big\n\n" + String(repeating: line, count: 40_000)  // about 2.8 MB, past the memory limit
        #expect(try enqueue(message, envelope: Array("F\0Tbig@quail.test\0\0".utf8), home: home) == 0)
        let queued = files(home.queue.todo)
        try #require(queued.count == 1)
        let bytes = try #require(FileManager.default.contents(atPath: home.queue.todo + "/" + queued[0]))
        #expect(String(decoding: bytes, as: UTF8.self).hasSuffix("\n" + message))
        #expect(files(home.queue.tmp).isEmpty)
    }
}
