import Foundation
import Glibc
import QuailCore
import Testing

/// ETRN (RFC 1985) costs the work for one domain: quail-smtpd reads nothing of the queue to answer it, and
/// quail-send carries out at most one ETRN flush per destination per probe interval (DESIGN.md, ETRN).
struct ETRNTests {
    /// Fills `todo/` with `count` copies of one message for other.test, each named by its inode as quail-queue
    /// names them; written without fsync, since the test needs many rather than durable ones.
    func fillQueue(_ home: TestHome, count: Int) throws {
        let id = try QueueWriter(layout: home.queue).inject(message: Array("Subject: filler\n\nfiller\n".utf8),
                                                            envelope: Envelope(sender: "a@client.test", recipients: ["user@other.test"]))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: home.queue.todoPath(id)))
        for number in 0..<count {
            let scratch = home.queue.tmp + "/filler.\(number)"
            #expect(FileManager.default.createFile(atPath: scratch, contents: bytes))
            var info = stat()
            #expect(stat(scratch, &info) == 0 && rename(scratch, home.queue.todoPath(QueueID(info.st_ino))) == 0)
        }
    }

    /// quail-smtpd on stdin/stdout under strace: every file it opens under `queue/` but the FIFOs of `lock/`.
    @Test func etrnReadsNothingOfTheQueue() throws {
        let home = try TestHome.backup()
        home.control("rcpthosts", "partner.test", "other.test")
        try fillQueue(home, count: 2000)
        #expect(home.todoCount() == 2001)
        // quail-send's end of the control FIFO, so that the request can be written.
        let fifo = open(home.queue.controlFIFO, O_RDONLY | O_NONBLOCK)
        try #require(fifo >= 0)
        defer { close(fifo) }
        let trace = home.path + "/strace.out"
        let script = "EHLO client.test\r\nETRN partner.test\r\nQUIT\r\n"
        let outcome = try Programs.run(try SMTPDaemon.tool("strace"),
                                       ["-f", "-qq", "-e", "trace=open,openat,openat2", "-o", trace, Programs.path("quail-smtpd")],
                                       stdin: Array(script.utf8), environment: home.environment.merging(["TCPREMOTEIP": "127.0.0.1"]) { $1 })
        let codes = outcome.stdout.components(separatedBy: "\r\n").filter { $0.count >= 4 && $0.dropFirst(3).first == " " }.map { String($0.prefix(3)) }
        #expect(codes == ["220", "250", "250", "221"], "\(outcome.stdout) \(outcome.stderr)")
        let opens = home.read(trace).split(separator: "\n").filter { $0.contains("\"\(home.queue.root)/") }
        #expect(opens.contains { $0.contains("/lock/control\"") }, "the request went out on the FIFO: \(opens)")
        let reads = opens.filter { !$0.contains("\"\(home.queue.lock)/") }
        #expect(reads.isEmpty, "\(reads.count) opens under queue/, first: \(reads.prefix(3))")
    }

    /// Two ETRNs for one destination within a probe interval make one flush in quail-send, whoever sends them
    /// and for whichever of the domains that share the destination; quail-qctl's flush stays unlimited.
    @Test func oneETRNFlushPerDestinationPerProbeInterval() throws {
        let home = try TestHome.backup()
        home.control("rcpthosts", "partner.test", "other.test", "third.test")
        // partner.test and other.test share a relay host, so one destination; third.test is one of its own.
        let port = try unusedTCPPort()
        home.control("smtproutes", "partner.test:[127.0.0.2]:\(port)", "other.test:[127.0.0.2]:\(port)")
        home.control("probeinterval", "600")
        let send = try home.startSend()
        defer { send.stop() }
        let server = try SMTPDaemon(home)
        let client = try server.connect()
        try client.hello()
        try client.command("ETRN partner.test", 250, "2.0.0")
        #expect(waitUntil(10) { send.log.contains("flush of partner.test requested by ETRN") }, "\(send.log)")
        try client.command("ETRN partner.test", 250, "2.0.0")
        let again = try server.connect()
        try again.hello()
        try again.command("ETRN other.test", 250, "2.0.0")
        try again.command("ETRN third.test", 250, "2.0.0")
        #expect(waitUntil(10) { send.log.contains("flush of third.test requested by ETRN") }, "\(send.log)")
        #expect(waitUntil(10) { send.log.components(separatedBy: " ignored: ").count == 3 }, "\(send.log)")
        let log = send.log
        #expect(log.components(separatedBy: "requested by ETRN").count - 1 == 2, "\(log)")
        #expect(log.contains("ETRN for partner.test ignored: "), "\(log)")
        #expect(log.contains("ETRN for other.test ignored: "), "\(log)")
        // The administrator's flush is not an ETRN: carried out every time.
        for _ in 0..<2 {
            let outcome = try Programs.run("quail-qctl", ["flush", "partner.test"], environment: home.environment)
            #expect(outcome.status == 0, "\(outcome.stderr)")
        }
        #expect(waitUntil(10) { send.log.components(separatedBy: "info: flush of partner.test requested\n").count - 1 == 2 }, "\(send.log)")
        try client.command("QUIT", 221, "2.0.0")
        try again.command("QUIT", 221, "2.0.0")
    }
}
