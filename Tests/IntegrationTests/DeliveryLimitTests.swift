import Foundation
import Glibc
import QuailCore
import Testing

/// What a stranger's DNS and servers can make one delivery cost (DESIGN.md, "A delivery is bounded"), and how
/// much of a server's text quail keeps. MX hosts are on port 25 of loopback addresses of each test's own
/// (127.0.18N.x), as in RemoteDeliveryTests; the tests run as root.
@Suite struct DeliveryLimitTests {
    /// A home whose resolver is `dns`, with timeouts short enough for many hosts that never greet.
    func home(dns: SpawnedServer, _ name: String = #function) throws -> TestHome {
        let home = try TestHome(name)
        home.control("resolvers", dns.address)
        home.control("timeoutconnect", "2")
        home.control("timeoutremote", "1")
        return home
    }

    /// dnsmasq listing `count` MX hosts for `domain`, the N-th at `network`.N.
    func dns(_ domain: String, hosts count: Int, network: String) throws -> SpawnedServer {
        try startDNSMasq((1...count).flatMap { number in
            ["--mx-host=\(domain),mx\(number).\(domain),\(number * 10)", "--host-record=mx\(number).\(domain),\(network).\(number)"]
        })
    }

    func remote(_ home: TestHome, _ domain: String, _ recipients: String...) throws -> [String] {
        let outcome = try Programs.run(
            "quail-remote", [domain, "sender@b.test"] + recipients, stdin: Array("Subject: x\n\nbody\n".utf8),
            environment: home.environment)
        #expect(outcome.status == 0, "quail-remote: \(outcome.stderr)")
        return outcome.stdout.split(separator: "\n").map(String.init)
    }

    @Test func twelveHostsThatNeverGreetCostFiveConnections() throws {
        let addresses = (1...12).map { "127.0.181.\($0)" }
        let servers = try ScriptedServer("silent", addresses)
        let dns = try dns("silent.test", hosts: 12, network: "127.0.181")
        let lines = try withExtendedLifetime(dns) { try remote(try home(dns: dns), "silent.test", "u@silent.test") }
        #expect(lines.count == 2 && lines[0].hasPrefix("Z") && lines[0].contains("7 more addresses not tried"), "\(lines)")
        #expect(waitUntil { servers.connections() >= DeliveryLimits.defaultAddresses })
        #expect(servers.connections() == DeliveryLimits.defaultAddresses)
    }

    @Test func hostsThatGreetWith421CostTwoSessions() throws {
        let servers = try ScriptedServer("busy", (1...3).map { "127.0.182.\($0)" })
        let dns = try dns("busy.test", hosts: 3, network: "127.0.182")
        let lines = try withExtendedLifetime(dns) { try remote(try home(dns: dns), "busy.test", "u@busy.test") }
        #expect(lines.count == 2 && lines[0].hasPrefix("Z") && lines[0].contains("421 4.3.2 too busy"), "\(lines)")
        #expect(waitUntil { servers.connections() >= DeliveryLimits.defaultSessions })
        #expect(servers.connections() == DeliveryLimits.defaultSessions)
    }

    /// Hosts that greet with 220 and then answer EHLO with 421: each is a session that came to nothing, the next
    /// host is tried, and the session limit ends the delivery after two.
    @Test func hostsThatGreetAndThenAnswer421CostTwoSessions() throws {
        let servers = try ScriptedServer("closing", (1...3).map { "127.0.185.\($0)" })
        let dns = try dns("closing.test", hosts: 3, network: "127.0.185")
        let lines = try withExtendedLifetime(dns) { try remote(try home(dns: dns), "closing.test", "u@closing.test") }
        #expect(lines.count == 2 && lines[0].hasPrefix("Z") && lines[0].contains("421 4.3.2 shutting down"), "\(lines)")
        #expect(waitUntil { servers.connections() >= DeliveryLimits.defaultSessions })
        #expect(servers.connections() == DeliveryLimits.defaultSessions)
    }

    /// 60 000 `220-` lines and no last one: the reply is refused at its line limit, long before the server is done
    /// (its small send buffer holds far less than the rest), and the connection is closed under it.
    @Test func aGreetingOfEndlessLinesIsATemporaryFailureAtTheLineLimit() throws {
        let servers = try ScriptedServer("flood", ["127.0.183.1"])
        let dns = try dns("flood.test", hosts: 1, network: "127.0.183")
        let lines = try withExtendedLifetime(dns) { try remote(try home(dns: dns), "flood.test", "u@flood.test") }
        #expect(lines.count == 2 && lines[0].hasPrefix("Z"), "\(lines)")
        #expect(lines[0].contains("reply of more than \(ReplyParser.lineLimit) lines"), "\(lines)")
        #expect(waitUntil { servers.noted("flood-cut") })
        #expect(!servers.noted("flood-sent"))
    }

    /// A recipient refused with a 42 KB 550 and one deferred with a 42 KB 451: the bounce and the state record
    /// keep the start of each, within `MessageState.Recipient.errorLimit` octets.
    @Test func aHugeReplyIsCutWhereItIsStored() throws {
        let port = try LoopbackDNS.unusedPort()
        let server = try ScriptedServer("huge", ["127.0.184.2"], port: port)
        defer { withExtendedLifetime(server) {} }
        let home = try TestHome.local()
        home.control("validrcptto", "user@example.test", "postmaster@example.test")
        home.control("smtproutes", "remote.test:[127.0.184.2]:\(port)")
        home.control("retryschedule", "1h")
        let injected = try home.inject("Subject: big words\n\nx\n", to: ["reject@remote.test", "temp@remote.test"], from: "user@example.test")
        #expect(injected.status == 0)
        let send = try home.startSend()
        defer { send.stop() }
        #expect(waitUntil { home.maildirNew("user", "example.test").count == 1 }, "\(send.log)")
        let bounce = home.read(home.maildirNew("user", "example.test").first ?? "")
        let said = bounce.split(separator: "\n").first { $0.hasPrefix("[127.0.184.2] said: ") }.map(String.init) ?? ""
        #expect(said.hasPrefix("[127.0.184.2] said: 550 5.1.1 line 0 "), "\(bounce.prefix(2000))")
        #expect(said.utf8.count <= "[127.0.184.2] said: ".utf8.count + MessageState.Recipient.errorLimit)
        #expect(!bounce.contains("END-OF-REPLY"))
        let recipients = try home.queueListing().flatMap { $0["recipients"] as? [[String: Any]] ?? [] }
        let kept = recipients.first { $0["address"] as? String == "temp@remote.test" }?["last_error"] as? String ?? ""
        #expect(kept.hasPrefix("451 4.2.0 line 0 "), "\(recipients)")
        #expect(kept.utf8.count <= MessageState.Recipient.errorLimit)
    }
}

/// Python SMTP servers that misbehave on purpose, one listener per address on `port`, noting each connection:
/// `silent` accepts and never greets; `busy` greets with 421 and closes; `closing` greets with 220 and answers
/// EHLO with 421; `flood` greets with 60 000 continuation
/// lines and no last one; `huge` speaks SMTP but answers RCPT for `reject…` and `temp…` with a 301-line 550 or 451.
final class ScriptedServer {
    let server: SpawnedServer
    let directory: String

    init(_ mode: String, _ hosts: [String], port: UInt16 = 25) throws {
        directory = NSTemporaryDirectory() + "quail-scripted-\(mode)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        server = try SpawnedServer(
            "/usr/bin/env", ["python3", "-c", Self.script, mode, directory, String(port)] + hosts,
            address: "\(hosts[0]):\(port)", readyLine: "ready")
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// How many connections were accepted, on all addresses together.
    func connections() -> Int {
        (try? String(contentsOfFile: directory + "/connections", encoding: .utf8))?.count ?? 0
    }

    /// Whether the server noted `event`.
    func noted(_ event: String) -> Bool { FileManager.default.fileExists(atPath: directory + "/" + event) }

    static let script = #"""
        import os, socket, sys, threading, time
        mode, directory, port, hosts = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
        lock = threading.Lock()

        def note(name):
            with lock:
                with open(os.path.join(directory, name), "a") as f:
                    f.write("x")

        def huge(code, status):
            lines = ["%d-%s line %d %s" % (code, status, i, "x" * 120) for i in range(300)]
            return ("\r\n".join(lines) + "\r\n%d %s END-OF-REPLY\r\n" % (code, status)).encode()

        def converse(conn):
            conn.sendall(b"220 scripted ESMTP\r\n")
            for line in conn.makefile("rb"):
                command = line.strip().upper()
                if command.startswith(b"RCPT") and b"<REJECT" in command:
                    conn.sendall(huge(550, "5.1.1"))
                elif command.startswith(b"RCPT") and b"<TEMP" in command:
                    conn.sendall(huge(451, "4.2.0"))
                elif command.startswith(b"QUIT"):
                    conn.sendall(b"221 bye\r\n")
                    return
                elif command.startswith(b"DATA"):
                    conn.sendall(b"554 no data here\r\n")
                else:
                    conn.sendall(b"250 ok\r\n")

        def serve(conn):
            note("connections")
            try:
                if mode == "busy":
                    conn.sendall(b"421 4.3.2 too busy\r\n")
                    return
                if mode == "closing":
                    conn.sendall(b"220 scripted ESMTP\r\n")
                    conn.makefile("rb").readline()
                    conn.sendall(b"421 4.3.2 shutting down\r\n")
                    return
                if mode == "flood":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
                    try:
                        for _ in range(600):
                            conn.sendall(b"220-\r\n" * 100)
                        note("flood-sent")
                    except OSError:
                        note("flood-cut")
                elif mode == "huge":
                    converse(conn)
                while conn.recv(4096):
                    pass
            except OSError:
                pass
            finally:
                conn.close()

        def accept(listener):
            while True:
                conn, _ = listener.accept()
                threading.Thread(target=serve, args=(conn,), daemon=True).start()

        for host in hosts:
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen(16)
            threading.Thread(target=accept, args=(listener,), daemon=True).start()
        print("ready", flush=True)
        while True:
            time.sleep(3600)
        """#
}
