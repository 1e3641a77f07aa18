import Foundation
import Glibc
import QuailCore
import Testing

/// quail-smtpd's log: a line per session and per message, and the `qp` that leads from its message line (and its
/// 250 reply) to quail-send's `info msg N: ... qp P` and so to `end msg N`.
@Suite("SMTP log")
struct SMTPLogTests {
    @Test func messageLineLeadsToSendLog() throws {
        let home = try TestHome.local()
        home.control("rcpthosts", "example.test")
        let send = try home.startSend()
        defer { send.stop() }
        let server = try SMTPDaemon(home)
        defer { server.stop() }

        let run = try swaks(server, ["--from", "sender@client.test", "--to", "user@example.test,other@example.test,stranger@elsewhere.test",
                                     "--body", "follow me"])
        #expect(run.status == 0, "\(run.output)")
        // qmail-smtpd's 250 names the queue process: `250 2.0.0 ok TIME qp P`.
        let accepted = try #require(run.replies.last { $0.hasPrefix("250 2.0.0 ok ") }, "\(run.output)")
        let qp = try #require(accepted.split(separator: " ").last.flatMap { UInt64($0) }, "\(accepted)")
        #expect(accepted.contains(" qp \(qp)"))

        #expect(waitUntil(10) { server.log.contains("end: ") }, "\(server.log)")
        let smtpdLines = server.log.split(separator: "\n").map(String.init)
        let messageLine = try #require(smtpdLines.first { $0.contains(" message 250 qp \(qp) ") }, "\(server.log)")
        #expect(messageLine.hasPrefix("quail-smtpd ") && messageLine.contains(" 127.0.0.1: message 250 qp \(qp) helo swaks.test "))
        #expect(messageLine.contains("from <sender@client.test> to <user@example.test>,<other@example.test> bytes "), "\(messageLine)")
        let endLine = try #require(smtpdLines.first { $0.contains(" 127.0.0.1: end: ") }, "\(server.log)")
        #expect(endLine.contains("; helo swaks.test started "), "\(endLine)")
        #expect(endLine.contains(" messages 1 accepted 1 recipients 2 refused 1"), "\(endLine)")
        #expect(smtpdLines.contains { $0.hasSuffix(" 127.0.0.1: connect") }, "\(server.log)")

        // quail-send: info msg N: bytes B from <s> qp P uid U, then end msg N.
        #expect(waitUntil(20) { send.log.contains(" qp \(qp) uid ") }, "\(send.log)")
        let info = try #require(send.log.split(separator: "\n").first { $0.hasSuffix(" qp \(qp) uid \(getuid())") }, "\(send.log)")
        #expect(info.contains(" from <sender@client.test> qp "), "\(info)")
        let id = try #require(info.split(separator: " ").dropFirst(2).first.map { $0.dropLast() }, "\(info)")
        #expect(waitUntil(20) { send.log.contains("end msg \(id)\n") }, "\(send.log)")
        #expect(home.maildirNew("user", "example.test").count == 1)
        #expect(home.maildirNew("other", "example.test").count == 1)
    }
}
