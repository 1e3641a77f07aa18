import Foundation
import Glibc
import QuailCore
import Testing

/// DESIGN.md, "Start-up": started as root, quail-send and quail-smtpd (both ways of running it) drop to the `quail`
/// user or `$QUAIL_USER`, refuse to start when that user is not in /etc/passwd or does not own the queue, and keep
/// root only when `QUAIL_USER=root` says so. A user that does not exist stands in for a machine without `quail`.
@Suite struct DaemonUserTests {
    static let missingUser = "quail-nosuch"

    /// The refusal names the user, says that only /etc/passwd is read (a user only LDAP knows is not found), and
    /// how to proceed.
    func expectRefusal(_ log: String, _ program: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(log.contains("\(program): fatal: started as root, and there is no user \(Self.missingUser) in /etc/passwd"),
                "\(log)", sourceLocation: sourceLocation)
        #expect(log.contains("not NSS") && log.contains("set QUAIL_USER") && log.contains("QUAIL_USER=root keeps root"),
                "\(log)", sourceLocation: sourceLocation)
    }

    @Test func quailSendRefusesWithoutItsUserAndKeepsRootOnlyWhenTold() throws {
        try #require(getuid() == 0, "the tests run as root")
        let home = try TestHome()
        let refused = try Daemon("quail-send", home: home, environment: ["QUAIL_USER": Self.missingUser])
        #expect(waitUntil(20) { !refused.process.isRunning }, "quail-send still runs: \(refused.log)")
        #expect(refused.stop() == 111)
        expectRefusal(refused.log, "quail-send")
        #expect(!refused.log.contains("status:"), "\(refused.log)")

        let kept = try home.startSend()
        defer { kept.stop() }
        #expect(kept.log.contains("quail-send: running as root: QUAIL_USER=root"), "\(kept.log)")
        #expect(processUIDs(kept.process.processIdentifier) == [0, 0, 0, 0])
    }

    @Test func quailSMTPDListenerRefusesWithoutItsUserAndKeepsRootOnlyWhenTold() throws {
        try #require(getuid() == 0, "the tests run as root")
        let home = try TestHome()
        let refused = try Daemon("quail-smtpd", ["--listen", "127.0.0.1:0"], home: home, environment: ["QUAIL_USER": Self.missingUser])
        #expect(waitUntil(20) { !refused.process.isRunning }, "quail-smtpd --listen still runs: \(refused.log)")
        #expect(refused.stop() == 111)
        expectRefusal(refused.log, "quail-smtpd")

        let kept = try SMTPDaemon(home)
        #expect(acceptsConnections(kept.port))
        #expect(fileText(kept.logPath).contains("quail-smtpd: running as root: QUAIL_USER=root"), "\(fileText(kept.logPath))")
    }

    /// On stdin and stdout, as under tcpserver or inetd: no greeting, exit 111.
    @Test func quailSMTPDSessionRefusesWithoutItsUserAndKeepsRootOnlyWhenTold() throws {
        try #require(getuid() == 0, "the tests run as root")
        let home = try TestHome()
        let script = Array("QUIT\r\n".utf8)
        let refused = try Programs.run("quail-smtpd", stdin: script,
                                       environment: home.environment.merging(["QUAIL_USER": Self.missingUser, "TCPREMOTEIP": "127.0.0.1"]) { $1 })
        #expect(refused.status == 111)
        #expect(refused.stdout.isEmpty, "no greeting: \(refused.stdout)")
        expectRefusal(refused.stderr, "quail-smtpd")

        let kept = try Programs.run("quail-smtpd", stdin: script, environment: home.environment.merging(["TCPREMOTEIP": "127.0.0.1"]) { $1 })
        #expect(kept.stdout.hasPrefix("220 "), "\(kept.stdout) \(kept.stderr)")
    }

    /// A user that exists but does not own the queue could not work in it: refused too, saying whose it is.
    @Test func aUserWhoDoesNotOwnTheQueueIsRefused() throws {
        try #require(getuid() == 0, "the tests run as root")
        let nobody = try #require(Privileges.account("nobody"))
        let home = try TestHome()
        let refused = try Daemon("quail-send", home: home, environment: ["QUAIL_USER": "nobody"])
        #expect(waitUntil(20) { !refused.process.isRunning }, "quail-send still runs: \(refused.log)")
        #expect(refused.stop() == 111)
        #expect(refused.log.contains("to run as nobody (uid \(nobody.uid)), but \(home.queue.root) belongs to uid 0"), "\(refused.log)")
    }
}
