import Foundation
import Glibc
import QuailCore
import Testing

/// quail-queue's limits (README, "Choices we made"): installed setuid to the queue's owner, it applies
/// `databytes` to a caller who is not that owner, and `QueueWriter.maximumRecipients` to everybody; a refusal is
/// a permanent code of its own, a line on stderr, and nothing queued.
@Suite struct QueueLimitTests {
    /// quail-queue installed setuid to the queue's owner (root here, `quail` in an install), with the home
    /// recorded beside it as scripts/install records it.
    final class SetuidQueue {
        let scratch: TestHome
        let home: TestHome
        let program: String
        private var runs = 0

        init(home: TestHome) throws {
            self.home = home
            scratch = try TestHome("setuidqueue")
            chmod(scratch.path, 0o755)  // `nobody` must reach the program
            let prefix = scratch.path + "/prefix"
            try FileIO.makeDirectories(prefix + "/bin", mode: 0o755)
            try FileIO.makeDirectories(prefix + "/etc/quail", mode: 0o755)
            program = prefix + "/bin/quail-queue"
            try FileManager.default.copyItem(atPath: Programs.path("quail-queue"), toPath: program)
            chmod(program, 0o4711)
            try (home.path + "\n").write(toFile: prefix + "/etc/quail/home", atomically: true, encoding: .utf8)
            chmod(prefix + "/etc/quail/home", 0o644)
        }

        /// Runs it as `uid` (through setpriv; nil: as the owner, root) with `message` on fd 0 and an envelope of
        /// `recipients` on fd 1; its exit code and stderr.
        func run(as uid: uid_t?, message: String, recipients: Int = 1) throws -> (status: Int32, stderr: String) {
            runs += 1
            let errorPath = scratch.path + "/stderr.\(runs)"
            let errors = try FileIO.open(errorPath, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
            let messagePipe = try FileIO.makePipe(), envelopePipe = try FileIO.makePipe()
            let environment = ChildProcess.currentEnvironment().filter { !$0.hasPrefix("QUAIL_") } + ["QUAIL_HOME=" + home.path]
            let (path, arguments) = uid.map { ("/usr/bin/setpriv", ["--reuid=\($0)", "--regid=\($0)", "--clear-groups", program]) } ?? (program, [])
            let pid = try ChildProcess.spawn(path, arguments: arguments, environment: environment,
                                             stdin: messagePipe.read, stdout: envelopePipe.read, stderr: errors)
            close(errors)
            close(messagePipe.read)
            close(envelopePipe.read)
            signal(SIGPIPE, SIG_IGN)
            // A refusal may come before everything is read: the writes then fail, and the exit code tells.
            try? FileIO.writeAll(messagePipe.write, message)
            close(messagePipe.write)
            try? FileIO.writeAll(envelopePipe.write, "Fsender@example.test\0" + (1...recipients).map { "Tuser\($0)@example.test\0" }.joined() + "\0")
            close(envelopePipe.write)
            return (try ChildProcess.wait(pid), fileText(errorPath))
        }
    }

    func queued(_ home: TestHome) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: home.queue.todo)) ?? []).count
    }

    func leftInTmp(_ home: TestHome) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: home.queue.tmp)) ?? ["?"]
    }

    let nobody: uid_t = 65534
    let small = "Subject: small\n\nfits\n"
    let large = "Subject: large\n\n" + String(repeating: String(repeating: "x", count: 99) + "\n", count: 50)

    @Test func aCallerWhoIsNotTheOwnerGetsDatabytes() throws {
        try #require(getuid() == 0, "the tests run as root, the queue's owner here")
        let home = try TestHome()
        home.control("databytes", "1000")
        let queue = try SetuidQueue(home: home)

        let refused = try queue.run(as: nobody, message: large)
        #expect(refused.status == QueueFailure.tooBig.rawValue, "\(refused.stderr)")
        #expect(QueueFailure.isPermanent(exitCode: refused.status))
        #expect(refused.stderr.contains("quail-queue: refused: the message is larger than control/databytes (1000 bytes); nothing queued"),
                "\(refused.stderr)")
        #expect(queued(home) == 0 && leftInTmp(home).isEmpty, "nothing queued")

        // Under the limit it goes in; the owner has no size limit here (its callers check databytes themselves).
        #expect(try queue.run(as: nobody, message: small).status == 0)
        #expect(try queue.run(as: nil, message: large).status == 0)
        #expect(queued(home) == 2)

        // databytes is read for the non-owner: one that cannot be parsed is a temporary failure, not no limit.
        home.control("databytes", "lots")
        let unreadable = try queue.run(as: nobody, message: small)
        #expect(unreadable.status == QueueFailure.configurationUnreadable.rawValue, "\(unreadable.stderr)")
        #expect(unreadable.stderr.contains("databytes"), "\(unreadable.stderr)")
        #expect(queued(home) == 2)
    }

    @Test func withoutDatabytesTheDefaultHolds() throws {
        try #require(getuid() == 0, "the tests run as root, the queue's owner here")
        let home = try TestHome()
        let queue = try SetuidQueue(home: home)
        let over = "Subject: huge\n\n" + String(repeating: String(repeating: "y", count: 1023) + "\n", count: 20 * 1024 + 1)
        #expect(try queue.run(as: nobody, message: over).status == QueueFailure.tooBig.rawValue)
        #expect(queued(home) == 0 && leftInTmp(home).isEmpty)
    }

    @Test func atMostTenThousandRecipientsForEverybody() throws {
        try #require(getuid() == 0, "the tests run as root, the queue's owner here")
        let home = try TestHome()
        let queue = try SetuidQueue(home: home)
        for caller in [nobody, nil] {
            let refused = try queue.run(as: caller, message: small, recipients: QueueWriter.maximumRecipients + 1)
            #expect(refused.status == QueueFailure.tooManyRecipients.rawValue, "\(refused.stderr)")
            #expect(refused.stderr.contains("quail-queue: refused: more than 10000 recipients; nothing queued"), "\(refused.stderr)")
        }
        #expect(queued(home) == 0 && leftInTmp(home).isEmpty)
        #expect(try queue.run(as: nobody, message: small, recipients: QueueWriter.maximumRecipients).status == 0)
        #expect(queued(home) == 1)
    }
}
