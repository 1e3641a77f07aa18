import Foundation
import Glibc
import QuailCore
import Testing

/// Inbound STARTTLS with real peers (issue 20): swaks, `openssl s_client`, Python's smtplib and ssl, and Postfix
/// 3.7 relaying into quail-smtpd, every one verifying the test authority's certificate for backup.test.
@Suite("TLS inbound")
struct TLSInboundTests {
    /// swaks --tls (verifying the chain; swaks 20201014 checks no name): EHLO, STARTTLS, EHLO again, a whole
    /// transaction; the message's Received field says ESMTPS with the version, and the session's log line carries it.
    @Test(arguments: SMTPMode.allCases)
    func swaksCompletesATransactionOverTLS(mode: SMTPMode) throws {
        let authority = try TestCA.get()
        let home = try TestHome.backup()
        try home.serve(authority.backup)
        let server = try SMTPDaemon(home, mode: mode)
        let run = try swaks(server, ["--tls", "--tls-verify", "--tls-ca-path", authority.certificatePath, "--tls-sni", "backup.test",
                                     "--from", "alice@client.test", "--to", "user@partner.test"])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("TLS started"), "\(run.output)")
        #expect(run.codes.suffix(5) == [250, 250, 354, 250, 221], "MAIL RCPT DATA . QUIT over TLS: \(run.replies)")
        #expect(waitUntil(5) { home.todoCount() == 1 }, "\(server.log)")
        let received = home.queuedMessages().first?.smtpdReceived ?? ""
        #expect(received.contains("with ESMTPS (TLSv1."), "\(received)")
        #expect(waitUntil(5) { server.log.contains("tls TLSv1.") }, "\(server.log)")
    }

    /// `openssl s_client -starttls smtp`, verifying the chain and the name backup.test, then a transaction typed
    /// into it line by line.
    @Test func opensslSClientCompletesATransaction() throws {
        let authority = try TestCA.get()
        let home = try TestHome.backup()
        try home.serve(authority.backup)
        let server = try SMTPDaemon(home)
        let output = try python("""
            import subprocess
            client = subprocess.Popen([\(try SMTPDaemon.tool("openssl").debugDescription), 's_client', '-connect', '127.0.0.1:\(server.port)',
                                       '-starttls', 'smtp', '-CAfile', \(authority.certificatePath.debugDescription),
                                       '-verify_return_error', '-verify_hostname', 'backup.test', '-crlf', '-quiet', '-ign_eof'],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            def reply():
                lines = []
                while True:
                    line = client.stdout.readline().decode(errors='replace').rstrip('\\r\\n')
                    lines.append(line)
                    if line[3:4] != '-':
                        return ' | '.join(lines)
            def command(line):
                client.stdin.write(line.encode() + b'\\n')
                client.stdin.flush()
                print(line.split(' ')[0] + ': ' + reply(), flush=True)
            for line in ['EHLO sclient.test', 'MAIL FROM:<alice@client.test>', 'RCPT TO:<user@partner.test>', 'DATA']:
                command(line)
            client.stdin.write(b'Subject: through s_client\\n\\nhello\\n.\\n')
            client.stdin.flush()
            print('end: ' + reply())
            command('QUIT')
            client.stdin.close()
            client.wait(timeout=20)
            print('verify: ' + ' '.join(client.stderr.read().decode(errors='replace').split()))
            """)
        let said = Self.labelled(output)
        #expect(said["verify"]?.contains("verify return:1") == true, "\(output)")
        #expect(said["EHLO"]?.hasPrefix("250-quail.test") == true && said["EHLO"]?.contains("STARTTLS") == false, "\(output)")
        #expect(said["MAIL"]?.hasPrefix("250 2.1.0") == true, "\(output)")
        #expect(said["RCPT"]?.hasPrefix("250 2.1.5") == true, "\(output)")
        #expect(said["DATA"]?.hasPrefix("354") == true, "\(output)")
        #expect(said["end"]?.hasPrefix("250 2.0.0") == true, "\(output)")
        #expect(said["QUIT"]?.hasPrefix("221") == true, "\(output)")
        #expect(waitUntil(5) { home.todoCount() == 1 })
        #expect(home.queuedMessages().first?.smtpdReceived.contains("with ESMTPS (TLSv1.") == true)
    }

    /// Python's smtplib: `starttls()` with a default context trusting the test authority, the name backup.test,
    /// then sendmail.
    @Test func smtplibStartTLSDeliversAMessage() throws {
        let authority = try TestCA.get()
        let home = try TestHome.backup()
        try home.serve(authority.backup)
        let server = try SMTPDaemon(home)
        let output = try smtplib(server, """
            import ssl
            s = smtplib.SMTP(timeout=20)
            s._host = 'backup.test'  # starttls() verifies the name given to the constructor; we connect by address
            s.connect(HOST, PORT)
            s.ehlo('smtplib.test')
            print('offered:', s.has_extn('starttls'))
            print('starttls:', *s.starttls(context=ssl.create_default_context(cafile=\(authority.certificatePath.debugDescription))))
            print('version:', s.sock.version())
            s.ehlo('smtplib.test')
            print('offered again:', s.has_extn('starttls'))
            print('refused:', s.sendmail('alice@client.test', ['user@partner.test'], b'Subject: smtplib over TLS\\r\\n\\r\\nhello\\r\\n'))
            s.quit()
            """)
        let said = Self.labelled(output)
        #expect(said["offered"] == "True", "\(output)")
        #expect(said["starttls"]?.hasPrefix("220 b'2.0.0") == true, "\(output)")
        #expect(said["version"]?.hasPrefix("TLSv1.") == true, "\(output)")
        #expect(said["offered again"] == "False", "\(output)")
        #expect(said["refused"] == "{}", "\(output)")
        #expect(waitUntil(5) { home.todoCount() == 1 })
        #expect(home.queuedMessages().first?.smtpdReceived.contains("with ESMTPS (TLSv1.") == true)
    }

    /// RFC 3207 §6: `STARTTLS` and `MAIL FROM` in one write. The MAIL was said in cleartext, so it is dropped: after
    /// the handshake the server says nothing unasked, the client's EHLO gets the EHLO reply, and a RCPT finds no
    /// transaction.
    @Test(arguments: SMTPMode.allCases)
    func commandsSentWithSTARTTLSAreNotAnsweredOverTLS(mode: SMTPMode) throws {
        let authority = try TestCA.get()
        let home = try TestHome.backup()
        try home.serve(authority.backup)
        let server = try SMTPDaemon(home, mode: mode)
        let output = try Self.tlsClient(server, authority, """
            c = Client()
            c.reply()
            c.command('EHLO client.test')
            c.send(b'STARTTLS\\r\\nMAIL FROM:<x@y>\\r\\n')
            say('starttls', c.reply())
            say('cleartext after 220', [repr(c.buffer)])
            c.wrap()
            c.sock.settimeout(2)
            try:
                unasked = c.sock.recv(4096)
            except socket.timeout:
                unasked = b''
            c.sock.settimeout(20)
            say('unasked', [repr(unasked)])
            say('ehlo', c.command('EHLO client.test'))
            say('rcpt', c.command('RCPT TO:<user@partner.test>'))
            say('quit', c.command('QUIT'))
            """)
        let said = Self.labelled(output)
        #expect(said["starttls"] == "220 2.0.0 ready to start TLS", "\(output)")
        #expect(said["cleartext after 220"] == "b''", "\(output)")
        #expect(said["unasked"] == "b''", "\(output)")
        #expect(said["ehlo"]?.hasPrefix("250-quail.test hello client.test") == true, "\(output)")
        #expect(said["rcpt"]?.hasPrefix("503 5.5.1") == true, "no MAIL was taken: \(output)")
        #expect(!output.contains("2.1.0"), "\(output)")
        #expect(said["quit"]?.hasPrefix("221") == true, "\(output)")
        #expect(home.todoCount() == 0)
    }

    /// EHLO offers STARTTLS in cleartext and not over TLS; a second STARTTLS is 503; STARTTLS inside a transaction
    /// is 503 and the transaction goes on in cleartext; before EHLO it is 503 too.
    @Test func startTLSOnlyOnceAndOutsideATransaction() throws {
        let authority = try TestCA.get()
        let home = try TestHome.backup()
        try home.serve(authority.backup)
        let server = try SMTPDaemon(home)
        let output = try Self.tlsClient(server, authority, """
            c = Client()
            c.reply()
            say('before ehlo', c.command('STARTTLS'))
            say('ehlo', c.command('EHLO client.test'))
            say('mail', c.command('MAIL FROM:<alice@client.test>'))
            say('in transaction', c.command('STARTTLS'))
            say('rset', c.command('RSET'))
            say('starttls', c.command('STARTTLS'))
            c.wrap()
            say('ehlo tls', c.command('EHLO client.test'))
            say('again', c.command('STARTTLS'))
            say('mail tls', c.command('MAIL FROM:<alice@client.test>'))
            say('quit', c.command('QUIT'))
            """)
        let said = Self.labelled(output)
        #expect(said["before ehlo"]?.hasPrefix("503 ") == true, "\(output)")
        #expect(said["ehlo"]?.contains("250-STARTTLS") == true || said["ehlo"]?.contains("250 STARTTLS") == true, "\(output)")
        #expect(said["in transaction"]?.hasPrefix("503 5.5.1") == true, "\(output)")
        #expect(said["rset"]?.hasPrefix("250") == true, "\(output)")
        #expect(said["starttls"]?.hasPrefix("220 2.0.0") == true, "\(output)")
        #expect(said["ehlo tls"]?.hasPrefix("250-quail.test hello") == true, "\(output)")
        #expect(said["ehlo tls"]?.contains("STARTTLS") == false, "\(output)")
        #expect(said["again"]?.hasPrefix("503 5.5.1") == true, "\(output)")
        #expect(said["mail tls"]?.hasPrefix("250 2.1.0") == true, "\(output)")
        #expect(said["quit"]?.hasPrefix("221") == true, "\(output)")
    }

    /// Without servercert.pem, EHLO offers no STARTTLS and STARTTLS is an unknown command; with one that does not
    /// load, STARTTLS is 454 and the session goes on in cleartext; a good one is offered from the next connection
    /// on, the listener still running.
    @Test(arguments: SMTPMode.allCases)
    func startTLSFollowsServercert(mode: SMTPMode) throws {
        let authority = try TestCA.get()
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home, mode: mode)

        let plain = try server.connect()
        try plain.expect(220)
        let ehlo = try plain.command("EHLO client.test", 250)
        #expect(!ehlo.texts.contains("STARTTLS"), "\(ehlo)")
        try plain.command("STARTTLS", 500, "5.5.1")
        try plain.command("QUIT", 221)

        home.control("servercert.pem", "-----BEGIN CERTIFICATE-----", "not a certificate", "-----END CERTIFICATE-----")
        let broken = try server.connect()
        try broken.expect(220)
        #expect(try broken.command("EHLO client.test", 250).texts.contains("STARTTLS"))
        try broken.command("STARTTLS", 454, "4.7.0")
        try broken.command("MAIL FROM:<alice@client.test>", 250, "2.1.0")
        try broken.command("QUIT", 221)

        try home.serve(authority.backup)
        let output = try Self.tlsClient(server, authority, """
            c = Client()
            c.reply()
            say('ehlo', c.command('EHLO client.test'))
            say('starttls', c.command('STARTTLS'))
            c.wrap()
            say('quit', c.command('QUIT'))
            """)
        let said = Self.labelled(output)
        #expect(said["ehlo"]?.contains("STARTTLS") == true, "\(output)")
        #expect(said["starttls"]?.hasPrefix("220 2.0.0") == true, "\(output)")
        #expect(said["quit"]?.hasPrefix("221") == true, "\(output)")
    }

    /// A client that says STARTTLS, reads the 220 and then sends nothing is closed once `timeoutsmtpd` has passed,
    /// and the log says why.
    @Test(arguments: SMTPMode.allCases)
    func theHandshakeIsBoundedByTimeoutsmtpd(mode: SMTPMode) throws {
        let authority = try TestCA.get()
        let home = try TestHome.backup()
        try home.serve(authority.backup)
        home.control("timeoutsmtpd", "2")
        let server = try SMTPDaemon(home, mode: mode)
        let client = try server.connect()
        try client.hello()
        try client.command("STARTTLS", 220, "2.0.0")
        #expect(client.waitForClose(30) != nil, "closed while the handshake waits")
        #expect(waitUntil(5) { server.log.contains("timed out") && server.log.contains("end: TLS handshake failed") }, "\(server.log)")
    }

    /// The strict CRLF rules hold over TLS: a bare LF in a command and in a message body is 550 5.5.2 and a close,
    /// nothing queued.
    @Test func bareLFOverTLSIsRefusedAndCloses() throws {
        let authority = try TestCA.get()
        let home = try TestHome.backup()
        try home.serve(authority.backup)
        let server = try SMTPDaemon(home)
        let output = try Self.tlsClient(server, authority, """
            for label, setup, bare in [
                ('command', [], b'MAIL FROM:<alice@client.test>\\n'),
                ('body', ['MAIL FROM:<alice@client.test>', 'RCPT TO:<user@partner.test>', 'DATA'],
                 b'Subject: bare\\r\\n\\r\\nline one\\nline two\\r\\n.\\r\\n'),
            ]:
                c = Client()
                c.reply()
                c.command('EHLO client.test')
                c.command('STARTTLS')
                c.wrap()
                c.command('EHLO client.test')
                for line in setup:
                    c.command(line)
                c.send(bare)
                say(label, c.reply())
                say(label + ' closed', [str(c.closed(10))])
            """)
        let said = Self.labelled(output)
        #expect(said["command"]?.hasPrefix("550 5.5.2") == true, "\(output)")
        #expect(said["command closed"] == "True", "\(output)")
        #expect(said["body"]?.hasPrefix("550 5.5.2") == true, "\(output)")
        #expect(said["body closed"] == "True", "\(output)")
        #expect(home.todoCount() == 0)
    }

    /// servercert.pem is read per connection: a renewed certificate (another serial) is what the next connections
    /// get, from the same listener and its reused session processes.
    @Test func aRenewedCertificateServesTheNextConnection() throws {
        let authority = try TestCA.get()
        let home = try TestHome.backup()
        try home.serve(authority.backup)
        let server = try SMTPDaemon(home)
        let peerCertificate = """
            c = Client()
            c.reply()
            c.command('EHLO client.test')
            c.command('STARTTLS')
            c.wrap()
            der = c.sock.getpeercert(binary_form=True)
            c.command('QUIT')
            for path in sys.argv[1:]:
                if ssl.PEM_cert_to_DER_cert(open(path).read()) == der:
                    say('served', [path])
            """
        for _ in 0..<3 {
            let said = Self.labelled(try Self.tlsClient(server, authority, peerCertificate, [authority.backup.certificatePath]))
            #expect(said["served"] == authority.backup.certificatePath)
        }
        let renewed = try authority.issue(["backup.test"])
        try home.serve(renewed)
        for _ in 0..<3 {
            let said = Self.labelled(try Self.tlsClient(server, authority, peerCertificate,
                                                        [authority.backup.certificatePath, renewed.certificatePath]))
            #expect(said["served"] == renewed.certificatePath, "renewed serial \(renewed.serial)")
        }
        #expect(server.process.isRunning)
    }

    // MARK: - Postfix as the sending MTA

    /// Postfix 3.7 relaying into quail with `smtp_tls_security_level = verify`, the test authority its CA file and
    /// backup.test the name it verifies: it delivers, and logs a verified TLS connection.
    @Test func postfixWithVerifyDeliversOverTLS() throws {
        let authority = try TestCA.get()
        let home = try TestHome.backup()
        try home.serve(authority.backup)
        let server = try SMTPDaemon(home, address: "127.0.0.2")
        let (status, log, queued) = try Self.relayThroughPostfix(home, server, settings: [
            "smtp_tls_security_level = verify",
            "smtp_tls_CAfile = \(authority.certificatePath)",
            "smtp_tls_verify_cert_match = backup.test",
            "smtp_tls_loglevel = 1",
        ])
        #expect(status.contains("status=sent"), "Postfix: \(status)")
        #expect(log.contains("Verified TLS connection established to 127.0.0.2"), "Postfix: \(log)")
        #expect(queued == 0, "Postfix's queue is empty")
        #expect(waitUntil(5) { home.todoCount() == 1 }, "\(server.log)")
        #expect(home.queuedMessages().first?.smtpdReceived.contains("with ESMTPS (TLSv1.") == true)
    }

    /// Postfix with `smtp_tls_security_level = encrypt` and quail without servercert.pem: STARTTLS is not offered,
    /// so Postfix keeps the message (deferred) and says TLS is required; quail queues nothing.
    @Test func postfixWithEncryptKeepsTheMessageWithoutServercert() throws {
        let home = try TestHome.backup()
        let server = try SMTPDaemon(home, address: "127.0.0.2")
        let (status, _, queued) = try Self.relayThroughPostfix(home, server, settings: ["smtp_tls_security_level = encrypt"])
        #expect(status.contains("status=deferred") && status.contains("TLS is required, but was not offered"), "Postfix: \(status)")
        #expect(queued == 1, "the message stays in Postfix's queue")
        #expect(home.todoCount() == 0)
    }

    /// Runs a private Postfix (scripts/postfix_peer.py) relaying partner.test to `server` with `settings` added to
    /// its main.cf, gives it one message, and waits for its log line about relaying it. Returns that line, the log,
    /// and how many messages Postfix still holds.
    static func relayThroughPostfix(_ home: TestHome, _ server: SMTPDaemon, settings: [String]) throws -> (String, String, Int) {
        // The postfix user must reach the instance's directory under the home.
        chmod(home.path, 0o755)
        let output = try python("""
            import smtplib, sys, time
            sys.path.insert(0, \(Repository.path("scripts").debugDescription))
            import postfix_peer
            reason = postfix_peer.postfix_installed()
            if reason:
                sys.exit(reason)
            peer = postfix_peer.PostfixPeer(\((home.path + "/postfix").debugDescription), postfix_peer.free_port(), \(server.port),
                                            settings=[\(settings.map(\.debugDescription).joined(separator: ", "))])
            peer.start()
            try:
                s = smtplib.SMTP('127.0.0.1', peer.port, timeout=20)
                s.sendmail('alice@client.test', ['user@partner.test'], b'Subject: via postfix\\r\\n\\r\\nhello\\r\\n')
                s.quit()
                print(peer.delivery_status('user@partner.test') or 'no relay attempt logged')
                print(peer.queued())
                with open(peer.log, errors='replace') as f:
                    print(' | '.join(l.strip() for l in f))
            finally:
                peer.stop()
            """)
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count >= 3, let queued = Int(lines[1]) else { throw HarnessError("postfix_peer said: \(output)") }
        return (lines[0], lines[2...].joined(separator: "\n"), queued)
    }

    // MARK: - A Python client

    /// Runs `body` in Python with a `Client` (a raw SMTP connection to `server`; `wrap()` makes it TLS, verifying
    /// the test authority's certificate for backup.test) and `say(label, lines)`, which prints `label: line | line`.
    /// `arguments` are `sys.argv[1:]`.
    static func tlsClient(_ server: SMTPDaemon, _ authority: TestCA, _ body: String, _ arguments: [String] = []) throws -> String {
        let script = """
            import socket, ssl, sys
            HOST, PORT, CA = \(server.host.debugDescription), \(server.port), \(authority.certificatePath.debugDescription)

            class Client:
                def __init__(self):
                    self.sock = socket.create_connection((HOST, PORT), timeout=20)
                    self.buffer = b''

                def send(self, data):
                    self.sock.sendall(data)

                def reply(self):
                    lines = []
                    while True:
                        while b'\\n' not in self.buffer:
                            chunk = self.sock.recv(65536)
                            if not chunk:
                                raise EOFError('closed by the server; unparsed: %r, lines: %r' % (self.buffer, lines))
                            self.buffer += chunk
                        line, self.buffer = self.buffer.split(b'\\n', 1)
                        lines.append(line.rstrip(b'\\r').decode(errors='replace'))
                        if lines[-1][3:4] != '-':
                            return lines

                def command(self, line):
                    self.send(line.encode() + b'\\r\\n')
                    return self.reply()

                def wrap(self):
                    context = ssl.create_default_context(cafile=CA)
                    self.sock = context.wrap_socket(self.sock, server_hostname='backup.test')

                def closed(self, seconds):
                    self.sock.settimeout(seconds)
                    try:
                        return self.sock.recv(4096) == b''
                    except (ssl.SSLEOFError, ConnectionResetError):
                        return True
                    except socket.timeout:
                        return False

            def say(label, lines):
                print(label + ': ' + ' | '.join(lines), flush=True)

            """
        let outcome = try Programs.run("/usr/bin/env", ["python3", "-c", script + body] + arguments)
        guard outcome.status == 0 else { throw HarnessError("python failed: \(outcome.stderr)\nit printed: \(outcome.stdout)") }
        return outcome.stdout
    }

    /// `label: text` lines as a dictionary (the last one of a label wins).
    static func labelled(_ output: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in output.split(separator: "\n") {
            guard let colon = line.range(of: ": ") else { continue }
            result[String(line[..<colon.lowerBound])] = String(line[colon.upperBound...])
        }
        return result
    }
}
