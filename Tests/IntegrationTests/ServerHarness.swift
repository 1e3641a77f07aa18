import Foundation
import Glibc
import QuailCore

// Servers the integration tests run on loopback, started with posix_spawn rather than Foundation's Process:
// a Foundation-spawned server left running kept Process from ever seeing another child exit (its reaper sat
// in a blocking wait4 on the server), so tests hung.

/// dnsmasq serving `records` for `.test`, started with posix_spawn rather than Foundation's Process:
/// a Foundation-spawned dnsmasq left running kept `Programs.run` from ever seeing quail-remote exit
/// (its reaper sat in a blocking wait4 on dnsmasq), so these tests hung.
func startDNSMasq(_ records: [String]) throws -> SpawnedServer {
    for _ in 0..<5 {
        let port = try LoopbackDNS.unusedPort()
        let server = try SpawnedServer(
            "/usr/sbin/dnsmasq",
            [
                "--no-daemon", "--no-resolv", "--no-hosts", "--port=\(port)", "--listen-address=127.0.0.1",
                "--bind-interfaces", "--local=/test/", "--host-record=ready.test,127.0.0.1",
            ] + records, address: "127.0.0.1:\(port)")
        let probe = DNSResolver(
            servers: [DNSServer(octets: [127, 0, 0, 1], port: port)], timeout: .milliseconds(200), triesPerServer: 1)
        if waitUntil(10, { !server.isRunning || !probe.lookup("ready.test", .a).data.isEmpty }), server.isRunning {
            return server
        }
    }
    throw HarnessError("dnsmasq did not start")
}

/// A server process started with posix_spawn, killed and reaped by pid when released.
final class SpawnedServer {
    let pid: pid_t
    /// Where it listens, as `control/resolvers` writes it.
    let address: String

    /// Starts `path`; with `readyLine`, waits until the server prints it (or exits without a word).
    init(_ path: String, _ arguments: [String], address: String, readyLine: String? = nil) throws {
        self.address = address
        let null = try FileIO.open("/dev/null", O_RDWR)
        defer { close(null) }
        let output = try FileIO.makePipe()
        pid = try ChildProcess.spawn(path, arguments: arguments, stdin: null, stdout: output.write, stderr: null)
        close(output.write)
        defer { close(output.read) }
        guard let readyLine else { return }
        var seen: [UInt8] = []
        var byte: UInt8 = 0
        while read(output.read, &byte, 1) == 1, byte != 0x0A { seen.append(byte) }
        guard String(decoding: seen, as: UTF8.self) == readyLine else {
            throw HarnessError("\(path) did not start on \(address) (port busy?)")
        }
    }

    var isRunning: Bool { kill(pid, 0) == 0 && waitpid(pid, nil, WNOHANG) == 0 }

    deinit {
        kill(pid, SIGKILL)
        waitpid(pid, nil, 0)
    }
}

/// aiosmtpd on `host:port`, saving each accepted message's envelope and exact DATA bytes in a directory.
/// Recipients steer its replies: `temp…` 451 and `reject…` 550 at RCPT, `datatemp…` 452 and `datafail…`
/// a multi-line 554 after DATA. With `pipelining` its EHLO offers PIPELINING (RFC 2920), and it notes each MAIL
/// whose RCPT had already arrived when MAIL was answered: the client did not wait. With `tls` its EHLO offers
/// STARTTLS (Python's `ssl`), and it notes each STARTTLS command, each completed handshake and the certificate
/// the client presented in it.
final class RecordingPrimary {
    let server: SpawnedServer
    let directory: String

    /// What a primary offers of TLS: STARTTLS with `certificate` (chain and key in one PEM file); with
    /// `clientAuthority`, it asks for the client's certificate and checks it against that authority, but takes
    /// the session without one too (`CERT_OPTIONAL`); with `onlyTLS11`, it speaks nothing newer than TLS 1.1, so
    /// a handshake with a TLS 1.2 client fails.
    struct TLS {
        var certificate: String
        var clientAuthority: String? = nil
        var onlyTLS11 = false
    }

    init(_ host: String, port: UInt16 = 25, pipelining: Bool = false, tls: TLS? = nil) throws {
        directory = NSTemporaryDirectory() + "quail-primary-\(host)-\(port)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        server = try SpawnedServer(
            "/usr/bin/env", ["python3", "-c", Self.script, host, String(port), directory, pipelining ? "pipelining" : "",
                             tls?.certificate ?? "", tls?.clientAuthority ?? "",
                             tls?.onlyTLS11 == true ? "tls11" : ""],
            address: "\(host):\(port)", readyLine: "ready")
    }

    /// How many STARTTLS commands the clients sent.
    func startTLSCommands() -> Int { marks("starttls") }

    /// How many TLS handshakes completed.
    func handshakes() -> Int { marks("handshakes") }

    /// Per completed handshake, the client's certificate as `CN serial` (hex), or `none` when it presented none.
    func clientCertificates() -> [String] {
        ((try? String(contentsOfFile: directory + "/peercert", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    private func marks(_ name: String) -> Int {
        (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8))?.count ?? 0
    }

    /// How many MAIL commands came with their RCPT already behind them in the same stream.
    func pipelinedTransactions() -> Int { marks("pipelined") }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// The messages received so far, in order: the envelope as JSON (with `tls`, the session's TLS version or
    /// null) and the DATA bytes.
    func messages() -> [(envelope: [String: Any], data: [UInt8])] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".env") }
        return names.sorted { $0.count == $1.count ? $0 < $1 : $0.count < $1.count }.map { name in
            let stem = directory + "/" + name.dropLast(4)
            let envelope = FileManager.default.contents(atPath: stem + ".env").flatMap { try? JSONSerialization.jsonObject(with: $0) }
            return (envelope as? [String: Any] ?? [:], Array(FileManager.default.contents(atPath: stem + ".data") ?? Data()))
        }
    }

    /// How many SMTP sessions were started: EHLOs in cleartext (the controller's own readiness check says none,
    /// and the EHLO after STARTTLS is not a new session).
    func connections() -> Int { marks("connections") }

    static let script = #"""
        import json, os, ssl, sys, time
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP, syntax
        host, port, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        pipelining = sys.argv[4] == "pipelining"
        certificate, client_authority, only_tls11 = sys.argv[5], sys.argv[6], sys.argv[7] == "tls11"

        def mark(name):
            with open(os.path.join(directory, name), "a") as f:
                f.write("x")

        class Handler:
            count = 0
            async def handle_EHLO(self, server, session, envelope, hostname, responses):
                if session.ssl is None:
                    mark("connections")
                session.host_name = hostname
                if pipelining:
                    responses.insert(1, "250-PIPELINING")
                return responses
            async def handle_MAIL(self, server, session, envelope, address, options):
                # What the client sent after MAIL without waiting for this reply (aiosmtpd's stream buffer).
                if b"RCPT TO:" in bytes(getattr(server._reader, "_buffer", b"")).upper():
                    mark("pipelined")
                envelope.mail_from = address
                envelope.mail_options.extend(options)
                return "250 2.1.0 ok"
            async def handle_HELO(self, server, session, envelope, hostname):
                session.host_name = hostname
                return "250 %s" % server.hostname
            async def handle_RCPT(self, server, session, envelope, address, options):
                local = address.split("@")[0]
                if local.startswith("temp"):
                    return "451 4.7.1 try again later, " + local
                if local.startswith("reject"):
                    return "550 5.1.1 no such user " + local
                envelope.rcpt_tos.append(address)
                envelope.rcpt_options.extend(options)
                return "250 2.1.5 ok"
            async def handle_DATA(self, server, session, envelope):
                locals_ = [r.split("@")[0] for r in envelope.rcpt_tos]
                if any(l.startswith("datatemp") for l in locals_):
                    return "452 4.3.1 insufficient system storage"
                if any(l.startswith("datafail") for l in locals_):
                    return "554-5.6.0 message refused\r\n554 5.6.0 content rejected here"
                Handler.count += 1
                stem = os.path.join(directory, str(Handler.count))
                with open(stem + ".data", "wb") as f:
                    f.write(envelope.original_content)
                with open(stem + ".tmp", "w") as f:
                    json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos, "helo": session.host_name,
                               "mail_options": envelope.mail_options, "rcpt_options": envelope.rcpt_options,
                               "tls": session.ssl["ssl_object"].version() if session.ssl else None}, f)
                os.rename(stem + ".tmp", stem + ".env")
                return "250 2.0.0 queued as %d" % Handler.count
            def handle_STARTTLS(self, server, session, envelope):
                # Called (not awaited) once the handshake is done, with the session made anew for it.
                mark("handshakes")
                peer = session.ssl["ssl_object"].getpeercert()
                with open(os.path.join(directory, "peercert"), "a") as f:
                    if peer:
                        subject = dict(pair[0] for pair in peer["subject"])
                        f.write("%s %s\n" % (subject.get("commonName"), peer.get("serialNumber")))
                    else:
                        f.write("none\n")
                return True

        class RecordingSMTP(SMTP):
            @syntax("STARTTLS", when="tls_context")
            async def smtp_STARTTLS(self, arg):
                mark("starttls")
                await super().smtp_STARTTLS(arg)

        class RecordingController(Controller):
            def factory(self):
                return RecordingSMTP(self.handler, **self.SMTP_kwargs)

        context = None
        if certificate:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certificate)
            if client_authority:
                context.verify_mode = ssl.CERT_OPTIONAL
                context.load_verify_locations(client_authority)
            if only_tls11:
                context.maximum_version = ssl.TLSVersion.TLSv1_1
        controller = RecordingController(Handler(), hostname=host, port=port, tls_context=context)
        controller.start()
        print("ready", flush=True)
        while True:
            time.sleep(3600)
        """#
}
