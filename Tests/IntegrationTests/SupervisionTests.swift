import Foundation
import Glibc
import QuailCore
import Testing

/// The repository's `scripts/service` directories under real runit (runsvdir/runsv/svlogd, quail-smtpd under
/// tcpserver) and daemontools (svscan/supervise/multilog, quail-smtpd --listen): mail flows, alarm flushes,
/// hup rereads control, term stops cleanly with the queue intact, and the lines arrive through the log service.
@Suite("Supervision")
struct SupervisionTests {
    @Test(arguments: SupervisedServices.Kind.allCases)
    func serviceDirectoriesUnderSupervisor(_ kind: SupervisedServices.Kind) throws {
        let home = try TestHome.local("supervision\(kind)")
        home.control("rcpthosts", "example.test", "other.test")
        // other.test goes to a port nobody listens on: its message waits, retried only when told.
        home.control("smtproutes", "other.test:127.0.0.1:\(try unusedTCPPort())")
        home.control("retryschedule", "1h")
        home.control("probeinterval", "3600")
        let port = try unusedTCPPort()
        let common = ["QUAIL_HOME": home.path, "QUAIL_BIN": Programs.directory, "QUAIL_USER": "root"]
        let smtpd = ["QUAIL_LISTEN": "127.0.0.1:\(port)", "QUAIL_TCPSERVER": kind == .runit ? "yes" : "no"]
        let services = try SupervisedServices(kind, in: home.path, services: [
            "quail-send": common, "quail-smtpd": common.merging(smtpd) { $1 },
        ])
        try services.start()
        defer { #expect(services.stop(), "every supervised process stopped by itself") }
        let sendLog = { services.logCurrent("quail-send") }
        let smtpdLog = { services.logCurrent("quail-smtpd") }

        try #require(waitUntil(30) { sendLog().contains("status: local 0/10 remote 0/20") }, "quail-send's first status line:\n\(sendLog())")
        try #require(waitUntil(30) { acceptsConnections(port) }, "quail-smtpd on 127.0.0.1:\(port):\n\(smtpdLog())")

        // Mail flows: swaks in, a Maildir out.
        let sent = try swaks(port: port, to: "user@example.test", body: "under \(kind)")
        #expect(sent.status == 0, "\(sent.output)")
        #expect(waitUntil(20) { home.maildirNew("user", "example.test").count == 1 }, "\(sendLog())")
        #expect(waitUntil(10) { smtpdLog().contains("message 250 qp ") }, "smtpd's message line:\n\(smtpdLog())")
        if kind == .runit { #expect(smtpdLog().contains("tcpserver: status: "), "tcpserver logs too:\n\(smtpdLog())") }
        // Each line came through the log service, timestamped by it: TAI64N for multilog, ISO for svlogd -tt.
        for line in sendLog().split(separator: "\n") {
            #expect(kind == .daemontools ? line.hasPrefix("@4000") : line.first?.isNumber == true, "\(line)")
        }

        // svc -a / sv alarm: a deferred message is retried at once, not in an hour.
        #expect(try swaks(port: port, to: "user@other.test", body: "deferred").status == 0)
        try #require(waitUntil(20) { sendLog().contains("deferral:") }, "\(sendLog())")
        let attempts = { sendLog().components(separatedBy: " to remote user@other.test").count - 1 }
        #expect(attempts() == 1)
        try services.control("quail-send", "a")
        #expect(waitUntil(20) { attempts() == 2 }, "a second attempt after the alarm:\n\(sendLog())")

        // svc -t / sv term: quail-send exits 0, the supervisor starts it again, the waiting message is still there.
        let before = try #require(services.pid("quail-send"))
        try services.control("quail-send", "t")
        #expect(waitUntil(30) { services.pid("quail-send").map { $0 != before } ?? false }, "restarted after term")
        #expect(waitUntil(10) { sendLog().contains("status: exiting") }, "\(sendLog())")
        if kind == .runit { #expect(waitUntil(10) { sendLog().contains("quail-send exited: status 0") }, "runit's finish line:\n\(sendLog())") }
        #expect(try home.queueCounts().messages == 1, "the deferred message survived the restart")

        // svc -h / sv hup: a changed locals takes effect; the next flush delivers other.test here.
        let rereads = { sendLog().components(separatedBy: "status: reread control files").count - 1 }
        // Ready again once the new quail-send logs its first status line (a SIGHUP before that would kill it).
        let restarted = { sendLog().components(separatedBy: "status: exiting").last?.contains("status: local 0/10") == true }
        try #require(waitUntil(20, restarted), "restarted quail-send is up:\n\(sendLog())")
        home.control("locals", "example.test", "other.test")
        // As an admin would: a new locals domain's users are listed too.
        home.control("validrcptto", "@quail.test", "@example.test", "user@other.test")
        try services.control("quail-send", "h")
        #expect(waitUntil(20) { rereads() == 1 }, "\(sendLog())")
        try services.control("quail-send", "a")
        #expect(waitUntil(20) { home.maildirNew("user", "other.test").count == 1 }, "delivered locally after hup:\n\(sendLog())")
        #expect(waitUntil(20) { home.queueIsEmpty() })
    }

    private func swaks(port: UInt16, to recipient: String, body: String) throws -> Programs.Outcome {
        try Programs.run(try SMTPDaemon.tool("swaks"), [
            "--server", "127.0.0.1:\(port)", "--timeout", "20", "--helo", "swaks.test",
            "--from", "sender@client.test", "--to", recipient, "--body", body,
        ])
    }
}

/// Outcome of a program run, with both streams for a failure message.
extension Programs.Outcome {
    var output: String { stdout + stderr }
}
