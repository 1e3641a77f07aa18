import Foundation
import Glibc
import QuailCore
import Testing

/// quail-send's state writes for a message with many recipients grow with the recipients, not with their square:
/// the record is rewritten a bounded number of times, not once per finished delivery.
@Suite struct StateWriteTests {
    @Test func twoThousandLocalRecipientsCostAFewRecordsOfStateWrites() throws {
        let strace = try SMTPDaemon.tool("strace")
        let home = try TestHome.local()
        home.control("validrcptto", "@example.test")
        let send = try home.startSend()
        defer { send.stop() }
        // Attached to quail-send alone (its one thread): every write it makes, with the path behind each descriptor.
        let tracePath = home.path + "/writes.trace"
        let tracer = try Daemon(strace, ["-y", "-e", "trace=write,pwrite64,writev", "-o", tracePath, "-p", "\(send.process.processIdentifier)"],
                                home: home)
        defer { tracer.signal(SIGINT) }
        try #require(waitUntil(20) { tracer.log.contains("attached") }, "\(tracer.log)")

        let recipients = (1...2000).map { "user\($0)@example.test" }
        let injected = try home.inject("Subject: many\n\nto many\n", to: recipients)
        try #require(injected.status == 0, "\(injected.stderr)")
        #expect(waitUntil(600) { send.log.contains("end msg") }, "\(send.log.suffix(2000))")
        send.stop()
        #expect(waitUntil(20) { !tracer.process.isRunning }, "strace ends with quail-send")
        #expect(recipients.filter { home.maildirNew(String($0.prefix { $0 != "@" }), "example.test").count != 1 }.isEmpty)

        // `write(7</home/queue/state/3/.new.123>, "..."..., 61234) = 61234`
        let written = home.read(tracePath).split(separator: "\n").filter { $0.contains("\(home.queue.root)/state/") }.compactMap { line in
            line.split(separator: "=").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        }
        let record = try #require(written.max(), "quail-send saved the state at least once")
        let total = written.reduce(0, +)
        #expect(record > 2000 * 10, "one record holds every recipient: \(record) bytes")
        #expect(total <= 24 * record, "\(total) bytes of state writes, \(written.count) writes, records of up to \(record) bytes")
    }
}
