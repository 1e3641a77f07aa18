import Foundation
import Glibc
import QuailCore
import Testing

/// The resolver against real servers on loopback: dnsmasq for honest answers, a Python responder for
/// the misbehaviour dnsmasq will not produce (SERVFAIL, silence, truncation, spoofed and garbage replies).
@Suite struct DNSResolverTests {
    static let records =
        [
            "--mx-host=partner.test,mx1.partner.test,10", "--mx-host=partner.test,mx2.partner.test,20",
            "--host-record=mx1.partner.test,127.0.0.2", "--host-record=mx2.partner.test,127.0.0.3,::1",
            "--cname=alias.partner.test,mx1.partner.test", "--mx-host=aliased.test,alias.partner.test,5",
            "--host-record=implicit.test,127.0.0.4",
            // RFC 7505's null MX: preference 0 (two octets), then the root name (one zero octet).
            "--dns-rr=nullmx.test,15,000000",
        ] + (1...10).map { "--cname=c\($0).test,\($0 == 10 ? "mx1.partner.test" : "c\($0 + 1).test")" }

    func resolver(_ servers: [String], timeout: Duration = .seconds(2)) throws -> DNSResolver {
        try DNSResolver(resolvers: servers, resolvConf: "/nonexistent", timeout: timeout)
    }

    @Test func mxHostsInPreferenceOrderWithTheirAddresses() throws {
        let dns = try LoopbackDNS.dnsmasq(Self.records)
        let resolver = try resolver([dns.address])
        #expect(
            resolver.mxHosts(for: "Partner.TEST.")
                == .hosts([
                    MXHost(name: "mx1.partner.test", preference: 10), MXHost(name: "mx2.partner.test", preference: 20),
                ]))
        #expect(resolver.addresses(of: "mx1.partner.test") == .addresses(["127.0.0.2"]))
        #expect(resolver.addresses(of: "mx2.partner.test") == .addresses(["127.0.0.3", "::1"]))
        #expect(resolver.lookup("mx1.partner.test", .aaaa) == .noRecords)
    }

    @Test func cnamesAreFollowed() throws {
        let dns = try LoopbackDNS.dnsmasq(Self.records)
        let resolver = try resolver([dns.address])
        // dnsmasq serves its own records with TTL 0 (--local-ttl).
        #expect(
            resolver.lookup("alias.partner.test", .a)
                == .records([DNSRecord(name: "mx1.partner.test", ttl: 0, data: .a("127.0.0.2"))]))
        #expect(resolver.lookup("alias.partner.test", .cname).data == [.cname("mx1.partner.test")])
        // An MX target that is an alias: quail still gets there (RFC 2181 §10.3 forbids it; senders cope).
        #expect(resolver.mxHosts(for: "aliased.test") == .hosts([MXHost(name: "alias.partner.test", preference: 5)]))
        #expect(resolver.addresses(of: "alias.partner.test") == .addresses(["127.0.0.2"]))
        #expect(resolver.lookup("c3.test", .a).data == [.a("127.0.0.2")])  // 8 hops: c3 … c10, mx1
        #expect(resolver.lookup("c1.test", .a) == .temporaryFailure("c1.test: CNAME chain too long"))
    }

    @Test func implicitMXNullMXAndNoSuchDomain() throws {
        let dns = try LoopbackDNS.dnsmasq(Self.records)
        let resolver = try resolver([dns.address])
        #expect(resolver.mxHosts(for: "implicit.test") == .hosts([MXHost(name: "implicit.test", preference: 0)]))
        #expect(resolver.addresses(of: "implicit.test") == .addresses(["127.0.0.4"]))
        #expect(resolver.mxHosts(for: "nullmx.test") == .nullMX)
        #expect(resolver.mxHosts(for: "nowhere.test") == .noSuchDomain)
        #expect(resolver.addresses(of: "nowhere.test") == .noSuchDomain)
    }

    @Test func nothingListeningIsATemporaryFailureSoon() throws {
        let resolver = try resolver(["127.0.0.1:\(try LoopbackDNS.unusedPort())"], timeout: .milliseconds(500))
        let started = ContinuousClock.now
        guard case .temporaryFailure = resolver.mxHosts(for: "partner.test") else {
            Issue.record("expected a temporary failure")
            return
        }
        #expect(ContinuousClock.now - started < .seconds(2))
    }

    @Test func silenceTimesOutEveryTryThenFailsTemporarily() throws {
        let dns = try LoopbackDNS.python("silent")
        let resolver = try resolver([dns.address], timeout: .milliseconds(300))
        let started = ContinuousClock.now
        #expect(resolver.lookup("partner.test", .mx) == .temporaryFailure("partner.test MX: \(dns.address): timed out"))
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(600) && elapsed < .seconds(3))  // two tries of 300 ms each
    }

    @Test func serverFailureIsTemporaryAndTheNextServerIsAsked() throws {
        let failing = try LoopbackDNS.python("servfail")
        #expect(
            try resolver([failing.address]).lookup("partner.test", .mx)
                == .temporaryFailure("partner.test MX: \(failing.address) answered SERVFAIL"))
        let dns = try LoopbackDNS.dnsmasq(Self.records)
        guard case .hosts(let hosts) = try resolver([failing.address, dns.address]).mxHosts(for: "partner.test") else {
            Issue.record("the second server was not asked")
            return
        }
        #expect(hosts.map(\.name) == ["mx1.partner.test", "mx2.partner.test"])
    }

    @Test func truncatedAnswersAreRepeatedOverTCP() throws {
        let dns = try LoopbackDNS.python("truncate")
        let result = try resolver([dns.address]).lookup("big.test", .a)
        #expect(result.data == (1...60).map { .a("127.0.1.\($0)") })
    }

    @Test func ipv6ServersOverUDPAndTCP() throws {
        let dns = try LoopbackDNS.python("truncate", host: "::1")
        #expect(try resolver([dns.address]).lookup("big.test", .a).data.count == 60)
    }

    @Test func repliesThatAreNotOursAreIgnored() throws {
        // Wrong id first, then the right id for another question, then the answer.
        let dns = try LoopbackDNS.python("spoof")
        #expect(try resolver([dns.address]).lookup("real.test", .a).data == [.a("127.0.0.7")])
    }

    @Test func aChainEndingInAnotherNameIsChasedWithANewQuery() throws {
        let dns = try LoopbackDNS.python("chase")
        let result = try resolver([dns.address]).lookup("start.test", .a)
        #expect(result == .records([DNSRecord(name: "end.test", ttl: 60, data: .a("127.0.0.9"))]))
    }

    @Test func malformedAnswersAreTemporaryFailures() throws {
        let dns = try LoopbackDNS.python("garbage")
        guard case .temporaryFailure(let reason) = try resolver([dns.address]).lookup("x.test", .a) else {
            Issue.record("expected a temporary failure")
            return
        }
        #expect(reason.contains("malformed answer"))
    }
}

/// A DNS server on a loopback port for one test; killed and waited for when released.
final class LoopbackDNS {
    let process = Process()
    let port: UInt16
    let host: String
    var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    private init(_ executable: String, _ arguments: [String], host: String = "127.0.0.1", port: UInt16?) throws {
        self.host = host
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let output = Pipe()
        process.standardOutput = port == nil ? output : FileHandle.nullDevice
        try process.run()
        // The Python responder binds port 0 and prints the port it got.
        self.port =
            try port
            ?? UInt16(String(decoding: output.fileHandleForReading.readLine(), as: UTF8.self))
            .orThrow("the responder printed no port")
    }

    deinit {
        // SIGKILL: a child spawned from a test thread inherits that thread's blocked SIGTERM.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// A port nothing listens on right now (the kernel's pick, released at once).
    static func unusedPort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw Errno.current }
        return UInt16(bigEndian: address.sin_port)
    }

    /// dnsmasq serving `records` for `.test` only, answering NXDOMAIN for other names there; ready when it
    /// answers. A port taken between the pick and dnsmasq's bind makes it exit, and another port is tried.
    static func dnsmasq(_ records: [String]) throws -> LoopbackDNS {
        for _ in 0..<5 {
            let port = try unusedPort()
            let arguments =
                [
                    "--no-daemon", "--no-resolv", "--no-hosts", "--port=\(port)", "--listen-address=127.0.0.1",
                    "--bind-interfaces", "--local=/test/",
                ] + records
            let server = try LoopbackDNS("/usr/sbin/dnsmasq", arguments, port: port)
            let resolver = DNSResolver(
                servers: [DNSServer(octets: [127, 0, 0, 1], port: port)], timeout: .milliseconds(200), triesPerServer: 1
            )
            // dnsmasq exits at once when the port was taken after all; otherwise wait for its first answer.
            if waitUntil(10, { !server.process.isRunning || !resolver.lookup("partner.test", .mx).data.isEmpty }),
                server.process.isRunning
            {
                return server
            }
        }
        throw HarnessError("dnsmasq did not start")
    }

    /// The Python responder below in `mode`, on UDP and TCP of one port of `host`.
    static func python(_ mode: String, host: String = "127.0.0.1") throws -> LoopbackDNS {
        try LoopbackDNS("/usr/bin/env", ["python3", "-c", responder, mode, host], host: host, port: nil)
    }

    static let responder = #"""
        import socket, struct, sys, threading
        mode, host = sys.argv[1], sys.argv[2]
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # A UDP port the kernel picks may be taken on TCP (the other tests listen on many): pick again then.
        for attempt in range(100):
            udp = socket.socket(family, socket.SOCK_DGRAM)
            udp.bind((host, 0))
            port = udp.getsockname()[1]
            tcp = socket.socket(family, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((host, port))
                break
            except OSError:
                udp.close()
                tcp.close()
        tcp.listen(8)
        print(port, flush=True)

        def wire(name):
            return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"

        def message(qid, flags, question, records):
            return struct.pack(">HHHHHH", qid, flags, 1, len(records), 0, 0) + question + b"".join(records)

        def a(owner, address):
            return owner + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(address)

        def answers(query, tcp):
            qid = struct.unpack(">H", query[:2])[0]
            end = query.index(b"\0", 12) + 5
            question, name = query[12:end], query[13:end - 5]
            if mode == "servfail":
                return [message(qid, 0x8182, question, [])]
            if mode == "truncate":
                if not tcp:
                    return [message(qid, 0x8380, question, [])]
                return [message(qid, 0x8180, question, [a(b"\xc0\x0c", "127.0.1.%d" % i) for i in range(1, 61)])]
            if mode == "spoof":
                other = wire("other.test") + question[-4:]
                return [message(qid ^ 1, 0x8180, question, [a(b"\xc0\x0c", "10.0.0.1")]),
                        message(qid, 0x8180, other, [a(b"\xc0\x0c", "10.0.0.2")]),
                        message(qid, 0x8180, question, [a(b"\xc0\x0c", "127.0.0.7")])]
            if mode == "chase":
                if question.startswith(wire("start.test")):
                    target = wire("end.test")
                    return [message(qid, 0x8180, question, [b"\xc0\x0c" + struct.pack(">HHIH", 5, 1, 60, len(target)) + target])]
                return [message(qid, 0x8180, question, [a(b"\xc0\x0c", "127.0.0.9")])]
            if mode == "garbage":
                return [struct.pack(">HHHHHH", qid, 0x8180, 1, 9, 0, 0) + b"\xc0\x0c" * 8]
            return []

        def serve_tcp():
            while True:
                conn, _ = tcp.accept()
                length = struct.unpack(">H", conn.recv(2))[0]
                query = b""
                while len(query) < length:
                    query += conn.recv(length - len(query))
                for reply in answers(query, True):
                    conn.sendall(struct.pack(">H", len(reply)) + reply)
                conn.close()

        threading.Thread(target=serve_tcp, daemon=True).start()
        while True:
            query, peer = udp.recvfrom(512)
            for reply in answers(query, False):
                udp.sendto(reply, peer)
        """#
}

private extension FileHandle {
    /// Bytes up to the next newline or the end of input.
    func readLine() -> [UInt8] {
        var line: [UInt8] = []
        while let byte = try? read(upToCount: 1)?.first, byte != UInt8(ascii: "\n") { line.append(byte) }
        return line
    }
}

private extension Optional {
    func orThrow(_ message: String) throws -> Wrapped {
        guard let self else { throw HarnessError(message) }
        return self
    }
}
