import Foundation
import Glibc
@testable import QuailCore
import Testing

/// The message file while it is written: `tmp/PID.TIME.N`, created before the message is read; after the
/// commit, one file in `todo/` named by its inode, with the `Received:` line asked for at the end on top.
@Suite struct QueueWriterTests {
    /// What `tmp/` held while the message was half written, seen from the thread that feeds the pipes.
    final class Midway: @unchecked Sendable {
        var entries = -1
    }

    /// Injects through pipes and reports how many entries `tmp/` held while the message was half written.
    func inject(home: QuailHome) throws -> (tmpEntriesMidway: Int, id: QueueID) {
        let writer = QueueWriter(layout: home.queue)
        let message = try FileIO.makePipe(), envelope = try FileIO.makePipe()
        defer { close(message.read); close(envelope.read) }
        let midway = Midway()
        let tmp = home.queue.tmp
        Thread {
            try? FileIO.writeAll(message.write, "Subject: half\n\n")
            // The file is made before the message is read: wait until the writer holds it open, then count.
            for _ in 0..<500 where QueueWriterTests.openFiles(in: tmp) == 0 { usleep(10_000) }
            midway.entries = (try? FileIO.listDirectory(tmp).count) ?? -1
            try? FileIO.writeAll(message.write, "the rest\n")
            close(message.write)
            try? FileIO.writeAll(envelope.write, Array("Fa@example.test\0Tb@example.test\0\0".utf8))
            close(envelope.write)
        }.start()
        let id = try writer.inject(messageFD: message.read, envelopeFD: envelope.read, received: { "Received: test\n" })
        return (midway.entries, id)
    }

    /// Descriptors of this process open on a file in `directory`.
    static func openFiles(in directory: String) -> Int {
        let descriptors = (try? FileIO.listDirectory("/proc/self/fd")) ?? []
        return descriptors.count { name in
            var target = [UInt8](repeating: 0, count: 4096)
            let length = readlink("/proc/self/fd/\(name)", &target, target.count)
            return length > 0 && String(decoding: target[..<length], as: UTF8.self).hasPrefix(directory + "/")
        }
    }

    @Test func commitsOneFileAndLeavesTmpEmpty() throws {
        let home = QuailHome(path: try makeScratchDirectory())
        try home.queue.create()
        let (midway, id) = try inject(home: home)
        #expect(midway == 1, "tmp/ entries while writing")
        #expect(try FileIO.listDirectory(home.queue.tmp).isEmpty)
        #expect(try FileIO.listDirectory(home.queue.todo) == ["\(id)"])
        let bytes = try #require(FileManager.default.contents(atPath: home.queue.todoPath(id)))
        #expect(String(decoding: bytes, as: UTF8.self) == "Fa@example.test\0Tb@example.test\0\0Received: test\nSubject: half\n\nthe rest\n")
        var info = stat()
        #expect(stat(home.queue.todoPath(id), &info) == 0)
        #expect(QueueID(info.st_ino) == id && info.st_mode & 0o777 == 0o600 && info.st_nlink == 1)
    }
}
