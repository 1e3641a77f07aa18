import Foundation
import Glibc
import QuailCore
import Testing

/// quail-send's long-lived delivery workers (docs/DESIGN.md, "Delivery workers"): a worker killed in the middle
/// of a delivery loses nothing and bounces nothing; a reload takes effect in new deliveries without a restart,
/// with the new control files and the program's binary as it is on disk then; a control file quail-send refused
/// never reaches a delivery.
@Suite(.serialized) struct WorkerTests {
    static let primaryHost = "127.0.0.2"

    func backup(port: UInt16, _ name: String = #function) throws -> TestHome {
        let home = try TestHome.partnerBackup(primary: Self.primaryHost, port: port, name)
        home.control("retryschedule", "1s")
        return home
    }

    /// The quail-remote worker quail-send runs now.
    func remoteWorker(of send: Daemon) -> pid_t? {
        childProcesses(of: send.process.processIdentifier).first { processName($0) == "quail-remote" }
    }

    /// Killed while the message's data is still on its way (the primary reads slowly, so the final dot has not
    /// left quail): the recipient is deferred, and delivered once when tried again.
    @Test func aWorkerKilledInTheMiddleOfDataLeavesTheRecipientForLater() throws {
        let port = try LoopbackDNS.unusedPort()
        let primary = try StallingPrimary(Self.primaryHost, port: port)
        primary.stall("data")
        let home = try backup(port: port)
        // Larger than both sockets' buffers: the worker blocks in its write with the end of the data unsent.
        let body = String(repeating: String(repeating: "x", count: 76) + "\n", count: 160_000)
        #expect(try home.inject("Subject: big\n\n" + body, to: ["user@partner.test"]).status == 0)
        let send = try home.startSend()
        defer { send.stop() }
        #expect(waitUntil(30) { primary.marks("data") >= 1 && primary.receivedBytes() >= 65536 }, "\(send.log)")
        let worker = try #require(remoteWorker(of: send))
        #expect(kill(worker, SIGKILL) == 0)
        #expect(waitUntil(15) { send.log.contains("exited with status 137 before its result") }, "\(send.log)")
        primary.release("data")
        #expect(waitUntil(180) { home.queueIsEmpty() }, "\(send.log)")
        #expect(primary.messages() == 1, "delivered exactly once")
        #expect(!send.log.contains("failure"), "nothing bounced: \(send.log)")
    }

    /// Killed after the final dot reached the primary but before its 250 came back: the primary has the message
    /// and quail delivers it again (at least once, never lost): one duplicate at most.
    @Test func aWorkerKilledAfterTheFinalDotCostsAtMostOneDuplicate() throws {
        let port = try LoopbackDNS.unusedPort()
        let primary = try StallingPrimary(Self.primaryHost, port: port)
        primary.stall("final")
        let home = try backup(port: port)
        #expect(try home.inject("Subject: small\n\nbody\n", to: ["user@partner.test"]).status == 0)
        let send = try home.startSend()
        defer { send.stop() }
        #expect(waitUntil(30) { primary.marks("dot") >= 1 }, "\(send.log)")
        let worker = try #require(remoteWorker(of: send))
        #expect(kill(worker, SIGKILL) == 0)
        #expect(waitUntil(15) { send.log.contains("exited with status 137 before its result") }, "\(send.log)")
        primary.release("final")
        #expect(waitUntil(60) { home.queueIsEmpty() }, "\(send.log)")
        let duplicates = primary.messages() - 1
        print("WorkerTests: a kill after the final dot made \(duplicates) duplicate(s)")
        #expect(duplicates == 1, "the primary had it once, quail's retry made the second")
        #expect(!send.log.contains("failure"), "nothing bounced: \(send.log)")
    }

    /// SIGHUP after smtproutes changed: the next delivery takes the new route, with no restart of quail-send.
    @Test func aReloadSendsNewDeliveriesByTheNewRoute() throws {
        let oldPort = try LoopbackDNS.unusedPort()
        let newPort = try LoopbackDNS.unusedPort()
        let old = try RecordingPrimary(Self.primaryHost, port: oldPort)
        let new = try RecordingPrimary("127.0.0.3", port: newPort)
        let home = try backup(port: oldPort)
        let send = try home.startSend()
        defer { send.stop() }
        #expect(try home.inject("Subject: one\n\nbody\n", to: ["user@partner.test"]).status == 0)
        #expect(waitUntil(30) { old.messages().count == 1 }, "\(send.log)")
        home.control("smtproutes", "partner.test:[127.0.0.3]:\(newPort)")
        send.signal(SIGHUP)
        #expect(waitUntil(10) { send.log.contains("reread control files") })
        #expect(try home.inject("Subject: two\n\nbody\n", to: ["user@partner.test"]).status == 0)
        #expect(waitUntil(30) { new.messages().count == 1 }, "\(send.log)")
        #expect(old.messages().count == 1)
    }

    /// A control file broken by an edit: quail-send keeps its configuration, and deliveries keep the old routes
    /// (the workers never read control/ themselves), also in workers started after the reload.
    @Test func aBrokenControlFileStopsNoDelivery() throws {
        let port = try LoopbackDNS.unusedPort()
        let primary = try RecordingPrimary(Self.primaryHost, port: port)
        let home = try backup(port: port)
        let send = try home.startSend()
        defer { send.stop() }
        home.control("smtproutes", "partner.test:[\(Self.primaryHost)]:\(port)", "this line is not a route")
        home.control("concurrencyremote", "many")
        send.signal(SIGHUP)
        #expect(waitUntil(10) { send.log.contains("keeping the previous configuration") }, "\(send.log)")
        for number in 1...3 {
            #expect(try home.inject("Subject: \(number)\n\nbody\n", to: ["user\(number)@partner.test"]).status == 0)
        }
        #expect(waitUntil(30) { primary.messages().count == 3 }, "\(send.log)")
        #expect(!send.log.contains("deferral"), "\(send.log)")
    }

    /// A quail-remote binary replaced on disk (an upgrade) is the one new deliveries use after SIGHUP.
    @Test func aReplacedBinaryIsUsedAfterAReload() throws {
        let port = try LoopbackDNS.unusedPort()
        let primary = try RecordingPrimary(Self.primaryHost, port: port)
        let home = try backup(port: port)
        // A copy of the programs, so that the test can replace quail-remote beside quail-send.
        let bin = home.path + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        for name in ["quail-send", "quail-remote", "quail-local", "quail-queue"] {
            try FileManager.default.copyItem(atPath: Programs.path(name), toPath: bin + "/" + name)
        }
        let send = try Daemon(bin + "/quail-send", home: home)
        defer { send.stop() }
        #expect(waitUntil(20) { send.log.contains("status:") }, "\(send.log)")
        #expect(try home.inject("Subject: one\n\nbody\n", to: ["user@partner.test"]).status == 0)
        #expect(waitUntil(30) { primary.messages().count == 1 }, "\(send.log)")
        // The new "binary" says who it is, then runs the real one: replaced by rename, as an install does.
        let marker = home.path + "/new-binary-ran"
        try FileManager.default.moveItem(atPath: bin + "/quail-remote", toPath: bin + "/quail-remote.real")
        let script = "#!/bin/sh\necho \"$@\" >> \(marker)\nexec \(bin)/quail-remote.real \"$@\"\n"
        try Data(script.utf8).write(to: URL(fileURLWithPath: bin + "/quail-remote.new"))
        chmod(bin + "/quail-remote.new", 0o755)
        #expect(rename(bin + "/quail-remote.new", bin + "/quail-remote") == 0)
        send.signal(SIGHUP)
        #expect(waitUntil(10) { send.log.contains("reread control files") })
        #expect(try home.inject("Subject: two\n\nbody\n", to: ["user@partner.test"]).status == 0)
        #expect(waitUntil(30) { primary.messages().count == 2 }, "\(send.log)")
        #expect(fileText(marker) == "--worker\n", "the replaced binary served the second delivery")
    }
}

/// A primary (Python asyncio, no PIPELINING) that can be told to stall: `stall("data")` stops it reading DATA
/// after its first 64 KiB, with a small receive buffer; `stall("final")` holds the reply after the final dot,
/// the message already stored (as a primary commits before it answers). It marks `data` at each 354 and `dot`
/// at each final dot, and notes in `bytes` when it has read 64 KiB of a DATA (where `stall("data")` stops it).
final class StallingPrimary {
    let server: SpawnedServer
    let directory: String

    init(_ host: String, port: UInt16) throws {
        directory = NSTemporaryDirectory() + "quail-stalling-\(host)-\(port)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        server = try SpawnedServer("/usr/bin/env", ["python3", "-c", Self.script, host, String(port), directory],
                                   address: "\(host):\(port)", readyLine: "ready")
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func stall(_ what: String) {
        #expect(FileManager.default.createFile(atPath: directory + "/stall-" + what, contents: nil), "stall-\(what) created")
    }
    func release(_ what: String) { try? FileManager.default.removeItem(atPath: directory + "/stall-" + what) }
    func marks(_ what: String) -> Int { fileText(directory + "/mark-" + what).count }
    func receivedBytes() -> Int { Int(fileText(directory + "/bytes").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 }
    func messages() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".msg") }.count
    }

    static let script = #"""
        import asyncio, os, socket, sys
        host, port, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        count = 0

        def mark(what):
            with open(os.path.join(directory, "mark-" + what), "a") as f:
                f.write("x")

        async def released(what):
            while os.path.exists(os.path.join(directory, "stall-" + what)):
                await asyncio.sleep(0.05)

        async def session(reader, writer):
            global count
            async def reply(text):
                writer.write(text.encode() + b"\r\n")
                await writer.drain()
            await reply("220 stalling primary")
            try:
                while True:
                    line = await reader.readline()
                    if not line:
                        return
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        await reply("250 stalling")
                    elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                        await reply("250 ok")
                    elif verb == b"QUIT":
                        await reply("221 bye")
                        return
                    elif verb == b"DATA":
                        await reply("354 go")
                        mark("data")
                        data, seen = [], 0
                        told = False
                        while True:
                            if seen >= 65536:
                                if not told:
                                    with open(os.path.join(directory, "bytes"), "w") as f:
                                        f.write(str(seen))
                                    told = True
                                await released("data")
                            piece = await reader.readline()
                            if not piece:
                                return
                            seen += len(piece)
                            if piece == b".\r\n":
                                break
                            data.append(piece)
                        mark("dot")
                        count += 1
                        with open(os.path.join(directory, "%d.msg" % count), "wb") as f:
                            f.write(b"".join(data))
                        await released("final")
                        await reply("250 stored %d" % count)
                    else:
                        await reply("502 no")
            except (ConnectionError, asyncio.IncompleteReadError):
                return
            finally:
                writer.close()

        async def main():
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            listener.bind((host, port))
            server = await asyncio.start_server(session, sock=listener, limit=1 << 20)
            print("ready", flush=True)
            async with server:
                await server.serve_forever()

        asyncio.run(main())
        """#
}
