import Foundation
import Glibc
import QuailCore
import Testing

/// Outbound STARTTLS (issue 20) against a real TLS primary: aiosmtpd with Python's `ssl` and certificates from
/// the test authority, MX records from dnsmasq. quail-remote one-shot for the levels of `control/tlsdestinations`
/// and what the `Hup` line says; quail-send for a kept, encrypted session and the delivery log.
///
/// MX hosts are reached on port 25, so each test has loopback addresses of its own (127.0.120.x to 127.0.132.x)
/// and the tests run in parallel. Every assertion is an outcome or a count, never a time.
@Suite("TLS outbound")
struct TLSOutboundTests {
    static let message = "From: a@b.test\nSubject: over TLS\n\nbody\n"

    /// A home resolving through `dns`, with short timeouts, `tlsdestinations` of `levels` (none: no file, the
    /// default `may`), trusting the test authority through `tlsca.pem` when `trusting`.
    func home(dns: SpawnedServer, levels: [String] = [], trusting: Bool = true, _ name: String = #function) throws -> TestHome {
        let home = try TestHome(name)
        home.control("resolvers", dns.address)
        home.control("timeoutconnect", "5")
        home.control("timeoutremote", "10")
        if !levels.isEmpty { home.control("tlsdestinations", levels.joined(separator: "\n")) }
        if trusting { try FileManager.default.copyItem(atPath: try TestCA.get().certificatePath, toPath: home.path + "/control/tlsca.pem") }
        return home
    }

    /// quail-remote's stdout lines for one message to `recipient` at `domain`.
    func remote(_ home: TestHome, _ domain: String, _ recipient: String) throws -> [String] {
        try remoteWithLog(home, domain, recipient).lines
    }

    /// The same, and what quail-remote said on stderr.
    func remoteWithLog(_ home: TestHome, _ domain: String, _ recipient: String) throws -> (lines: [String], log: String) {
        let outcome = try Programs.run(
            "quail-remote", [domain, "sender@b.test", recipient], stdin: Array(Self.message.utf8), environment: home.environment)
        #expect(outcome.status == 0, "quail-remote: \(outcome.stderr)")
        return (outcome.stdout.split(separator: "\n").map(String.init), outcome.stderr)
    }

    /// A primary at `address` offering STARTTLS with `certificate`, or none without one.
    func primary(_ address: String, _ certificate: TestCA.Certificate?) throws -> RecordingPrimary {
        try RecordingPrimary(address, tls: certificate.map { RecordingPrimary.TLS(certificate: $0.combinedPath) })
    }

    /// `verify` with a certificate from a trusted authority for the MX host's name: delivered over TLS, and the
    /// `Hup` line says the version and `verified`.
    @Test func verifyWithTheRightNameDelivers() throws {
        let primary = try primary("127.0.120.2", try TestCA.get().issue(["primary.test"]))
        let dns = try startDNSMasq(["--mx-host=mail.test,primary.test,10", "--host-record=primary.test,127.0.120.2"])
        let lines = try remote(try home(dns: dns, levels: ["mail.test:verify"]), "mail.test", "user@mail.test")
        #expect(lines.count == 2 && lines[0] == "K250 2.0.0 queued as 1", "\(lines)")
        #expect(lines.last?.hasPrefix("Hup primary.test 127.0.120.2 TLSv1.") == true && lines.last?.hasSuffix(" verified") == true, "\(lines)")
        #expect(primary.messages().count == 1)
        #expect((primary.messages().first?.envelope["tls"] as? String)?.hasPrefix("TLSv1.") == true, "the message came over TLS")
        #expect(primary.handshakes() == 1)
    }

    /// A certificate `verify` cannot accept, and the reason OpenSSL gives for it.
    struct BadCertificate: Sendable, CustomTestStringConvertible {
        var kind: String
        var address: String
        var reason: String
        var testDescription: String { kind }
    }

    static let badCertificates = [
        BadCertificate(kind: "wrong name", address: "127.0.121.2", reason: "hostname mismatch"),
        BadCertificate(kind: "expired", address: "127.0.121.3", reason: "certificate has expired"),
        BadCertificate(kind: "unknown authority", address: "127.0.121.4", reason: "unable to get local issuer certificate"),
        BadCertificate(kind: "self-signed", address: "127.0.121.5", reason: "self-signed certificate"),
    ]

    /// `verify` with a certificate for another name, an expired one, one from an authority not in the trust store
    /// (no `tlsca.pem`), a self-signed one: the handshake happens, then the recipient is deferred (Z) with
    /// OpenSSL's reason, the destination is down, and the primary gets nothing.
    @Test(arguments: badCertificates)
    func verifyDefersABadCertificate(_ bad: BadCertificate) throws {
        let authority = try TestCA.get()
        let certificate = switch bad.kind {
        case "wrong name": try authority.issue(["other.test"])
        case "expired": try authority.issue(["primary.test"], .expired)
        case "self-signed": authority.unknownAuthority
        default: try authority.issue(["primary.test"])
        }
        // The self-signed certificate from the test authority is for backup.test: the MX host has that name.
        let host = bad.kind == "self-signed" ? "backup.test" : "primary.test"
        let primary = try primary(bad.address, certificate)
        let dns = try startDNSMasq(["--mx-host=mail.test,\(host),10", "--host-record=\(host),\(bad.address)"])
        let home = try home(dns: dns, levels: ["mail.test:verify"], trusting: bad.kind != "unknown authority", "verify-\(bad.kind)")
        let lines = try remote(home, "mail.test", "user@mail.test")
        #expect(lines.count == 2, "\(lines)")
        #expect(lines.first?.hasPrefix("Z") == true && lines.first?.contains("does not verify: \(bad.reason)") == true, "\(lines)")
        #expect(lines.last?.hasPrefix("Hdown \(host) [\(bad.address)]: the certificate of") == true, "\(lines)")
        #expect(primary.handshakes() == 1, "TLS was had; the certificate failed")
        #expect(primary.messages().isEmpty)
    }

    /// `verify` with two MX hosts, the better one's certificate for another name: the second, whose certificate is
    /// right, gets the message.
    @Test func verifyTriesTheNextMXAfterABadCertificate() throws {
        let authority = try TestCA.get()
        let bad = try primary("127.0.122.2", authority.wrongName)
        let good = try primary("127.0.122.3", try authority.issue(["mx2.mail.test"]))
        let dns = try startDNSMasq([
            "--mx-host=mail.test,mx1.mail.test,10", "--mx-host=mail.test,mx2.mail.test,20",
            "--host-record=mx1.mail.test,127.0.122.2", "--host-record=mx2.mail.test,127.0.122.3",
        ])
        let lines = try remote(try home(dns: dns, levels: ["mail.test:verify"]), "mail.test", "user@mail.test")
        #expect(lines.first == "K250 2.0.0 queued as 1", "\(lines)")
        #expect(lines.last?.hasPrefix("Hup mx2.mail.test 127.0.122.3 TLSv1.") == true && lines.last?.hasSuffix(" verified") == true, "\(lines)")
        #expect(bad.handshakes() == 1 && bad.messages().isEmpty)
        #expect(good.messages().count == 1)
    }

    /// `may` (the default: no `tlsdestinations`) to a primary that offers no STARTTLS: delivered in cleartext, and
    /// the `Hup` line is qmail-remote's, nothing after the address.
    @Test func mayDeliversInCleartextWithoutSTARTTLS() throws {
        let primary = try primary("127.0.123.2", nil)
        let dns = try startDNSMasq(["--mx-host=mail.test,mx.mail.test,10", "--host-record=mx.mail.test,127.0.123.2"])
        let lines = try remote(try home(dns: dns), "mail.test", "user@mail.test")
        #expect(lines == ["K250 2.0.0 queued as 1", "Hup mx.mail.test 127.0.123.2"])
        #expect(primary.messages().count == 1)
        #expect(primary.messages().first?.envelope["tls"] is NSNull, "in cleartext")
    }

    /// `may` to a primary whose certificate no trusted authority signed: delivered over TLS all the same, and the
    /// line says `unverified` and why.
    @Test func mayDeliversOverTLSWithAnUntrustedCertificate() throws {
        let primary = try primary("127.0.124.2", try TestCA.get().issue(["mx.mail.test"]))
        let dns = try startDNSMasq(["--mx-host=mail.test,mx.mail.test,10", "--host-record=mx.mail.test,127.0.124.2"])
        let lines = try remote(try home(dns: dns, levels: ["mail.test:may"], trusting: false), "mail.test", "user@mail.test")
        #expect(lines.first == "K250 2.0.0 queued as 1", "\(lines)")
        #expect(lines.last?.hasPrefix("Hup mx.mail.test 127.0.124.2 TLSv1.") == true, "\(lines)")
        #expect(lines.last?.hasSuffix(" unverified: unable to get local issuer certificate") == true, "\(lines)")
        #expect((primary.messages().first?.envelope["tls"] as? String)?.hasPrefix("TLSv1.") == true, "\(primary.messages())")
    }

    /// `encrypt` to a primary without STARTTLS: deferred, the destination down, nothing delivered.
    @Test func encryptDefersWithoutSTARTTLS() throws {
        let primary = try primary("127.0.125.2", nil)
        let dns = try startDNSMasq(["--mx-host=mail.test,mx.mail.test,10", "--host-record=mx.mail.test,127.0.125.2"])
        let lines = try remote(try home(dns: dns, levels: ["mail.test:encrypt"]), "mail.test", "user@mail.test")
        #expect(lines.count == 2, "\(lines)")
        #expect(lines.first?.hasPrefix("Z") == true && lines.first?.contains("does not offer STARTTLS, and TLS is required (encrypt)") == true, "\(lines)")
        #expect(lines.last?.hasPrefix("Hdown mx.mail.test [127.0.125.2]:") == true, "\(lines)")
        #expect(primary.messages().isEmpty)
    }

    /// `encrypt` asks for TLS, not for a certificate anyone vouches for: a self-signed certificate for another name
    /// still carries the message, and the line says `unverified`.
    @Test func encryptDeliversWithAnUntrustedCertificate() throws {
        let primary = try primary("127.0.125.3", try TestCA.get().unknownAuthority)
        let dns = try startDNSMasq(["--mx-host=mail.test,mx.mail.test,10", "--host-record=mx.mail.test,127.0.125.3"])
        let lines = try remote(try home(dns: dns, levels: ["mail.test:encrypt"]), "mail.test", "user@mail.test")
        #expect(lines.first == "K250 2.0.0 queued as 1", "\(lines)")
        #expect(lines.last?.hasPrefix("Hup mx.mail.test 127.0.125.3 TLSv1.") == true && lines.last?.contains(" unverified: ") == true, "\(lines)")
        #expect((primary.messages().first?.envelope["tls"] as? String)?.hasPrefix("TLSv1.") == true, "\(primary.messages())")
    }

    /// A handshake that fails (the primary speaks nothing newer than TLS 1.1): `may` says so, tries the host again
    /// on a new connection in cleartext and delivers there; `encrypt` defers, and nothing arrives.
    @Test func aFailedHandshakeIsRetriedInCleartextAtMayAndDefersAtEncrypt() throws {
        let primary = try RecordingPrimary(
            "127.0.132.2", tls: RecordingPrimary.TLS(certificate: try TestCA.get().issue(["mx.mail.test"]).combinedPath, onlyTLS11: true))
        let dns = try startDNSMasq(["--mx-host=may.test,mx.mail.test,10", "--mx-host=encrypt.test,mx.mail.test,10",
                                    "--host-record=mx.mail.test,127.0.132.2"])
        let home = try home(dns: dns, levels: ["may.test:may", "encrypt.test:encrypt"])
        let may = try remoteWithLog(home, "may.test", "u@may.test")
        #expect(may.lines == ["K250 2.0.0 queued as 1", "Hup mx.mail.test 127.0.132.2"], "\(may)")
        #expect(may.log.contains("mx.mail.test [127.0.132.2]: TLS") && may.log.contains("; trying again without TLS"), "\(may.log)")
        #expect(primary.startTLSCommands() == 1 && primary.handshakes() == 0 && primary.connections() == 2)
        let encrypt = try remote(home, "encrypt.test", "u@encrypt.test")
        // The host is named once: `last: mx.mail.test [127.0.132.2]: TLS…`.
        #expect(encrypt.first?.hasPrefix("Z") == true && encrypt.first?.contains("; last: mx.mail.test [127.0.132.2]: TLS") == true, "\(encrypt)")
        #expect(encrypt.last?.hasPrefix("Hdown mx.mail.test [127.0.132.2]: TLS") == true, "\(encrypt)")
        #expect(primary.messages().map { $0.envelope["to"] as? [String] ?? [] } == [["u@may.test"]])
    }

    /// `none`: no STARTTLS goes out although the primary offers it and its certificate would verify.
    @Test func noneSendsNoSTARTTLS() throws {
        let primary = try primary("127.0.126.2", try TestCA.get().issue(["mx.mail.test"]))
        let dns = try startDNSMasq(["--mx-host=mail.test,mx.mail.test,10", "--host-record=mx.mail.test,127.0.126.2"])
        let lines = try remote(try home(dns: dns, levels: ["mail.test:none"]), "mail.test", "user@mail.test")
        #expect(lines == ["K250 2.0.0 queued as 1", "Hup mx.mail.test 127.0.126.2"])
        #expect(primary.messages().count == 1)
        #expect(primary.startTLSCommands() == 0 && primary.handshakes() == 0)
    }

    /// One primary, a self-signed certificate, four domains: `.sub.test:verify` covers a.sub.test (deferred) but
    /// not sub.test itself, which takes the default line `:none` (cleartext), as does other.test; an exact line
    /// `exact.sub.test:encrypt` wins over the `.sub.test` line (delivered, unverified).
    @Test func subdomainAndDefaultLinesApplyAsDocumented() throws {
        let primary = try primary("127.0.127.2", try TestCA.get().unknownAuthority)
        let domains = ["a.sub.test", "sub.test", "other.test", "exact.sub.test"]
        let dns = try startDNSMasq(domains.map { "--mx-host=\($0),mx.mail.test,10" } + ["--host-record=mx.mail.test,127.0.127.2"])
        let home = try home(dns: dns, levels: [".sub.test:verify", ":none", "exact.sub.test:encrypt"])
        let subdomain = try remote(home, "a.sub.test", "u@a.sub.test")
        #expect(subdomain.first?.hasPrefix("Z") == true && subdomain.first?.contains("does not verify") == true, "\(subdomain)")
        #expect(try remote(home, "sub.test", "u@sub.test") == ["K250 2.0.0 queued as 1", "Hup mx.mail.test 127.0.127.2"])
        #expect(try remote(home, "other.test", "u@other.test") == ["K250 2.0.0 queued as 2", "Hup mx.mail.test 127.0.127.2"])
        let exact = try remote(home, "exact.sub.test", "u@exact.sub.test")
        #expect(exact.first == "K250 2.0.0 queued as 3", "\(exact)")
        #expect(exact.last?.hasPrefix("Hup mx.mail.test 127.0.127.2 TLSv1.") == true && exact.last?.contains(" unverified: ") == true, "\(exact)")
        #expect(primary.messages().map { $0.envelope["to"] as? [String] ?? [] } == [["u@sub.test"], ["u@other.test"], ["u@exact.sub.test"]])
        #expect(primary.startTLSCommands() == 2, "a.sub.test's and exact.sub.test's; none for the `none` domains")
    }

    /// An `[ip]` literal route is checked against the address: a certificate for that IP verifies, one for another
    /// IP does not.
    @Test func aLiteralRouteIsVerifiedAgainstTheAddress() throws {
        let authority = try TestCA.get()
        let right = try primary("127.0.128.2", try authority.issue(["127.0.128.2"]))
        let wrong = try primary("127.0.128.3", try authority.issue(["127.0.128.9"]))
        let dns = try startDNSMasq([])
        let home = try home(dns: dns, levels: [":verify"])
        home.control("smtproutes", "right.test:[127.0.128.2]", "wrong.test:[127.0.128.3]")
        let verified = try remote(home, "right.test", "u@right.test")
        #expect(verified.first == "K250 2.0.0 queued as 1", "\(verified)")
        #expect(verified.last?.hasPrefix("Hup [127.0.128.2] 127.0.128.2 TLSv1.") == true && verified.last?.hasSuffix(" verified") == true, "\(verified)")
        let refused = try remote(home, "wrong.test", "u@wrong.test")
        #expect(refused.first?.hasPrefix("Z") == true && refused.first?.contains("does not verify: IP address mismatch") == true, "\(refused)")
        #expect(right.messages().count == 1 && wrong.messages().isEmpty)
    }

    /// With `clientcert.pem`, quail presents it to a primary that asks for a client certificate: the primary sees
    /// its subject and serial; without the file, it sees none.
    @Test func theClientCertificateIsPresentedWhenAsked() throws {
        let authority = try TestCA.get()
        let client = try authority.issue(["quail.test"], usage: "clientAuth")
        let primary = try RecordingPrimary(
            "127.0.131.2", tls: RecordingPrimary.TLS(certificate: try authority.issue(["mx.mail.test"]).combinedPath,
                                                     clientAuthority: authority.certificatePath))
        let dns = try startDNSMasq(["--mx-host=mail.test,mx.mail.test,10", "--host-record=mx.mail.test,127.0.131.2"])
        let home = try home(dns: dns, levels: ["mail.test:verify"])
        try FileManager.default.copyItem(atPath: client.combinedPath, toPath: home.path + "/control/clientcert.pem")
        #expect(try remote(home, "mail.test", "u@mail.test").first == "K250 2.0.0 queued as 1")
        unlink(home.path + "/control/clientcert.pem")
        #expect(try remote(home, "mail.test", "u@mail.test").first == "K250 2.0.0 queued as 2")
        #expect(primary.clientCertificates() == ["quail.test \(client.serial)", "none"])
    }

    /// A home for quail-send: `partner.test` by MX through `dns`, `verify` for it, the test authority trusted.
    func sendingHome(dns: SpawnedServer, levels: [String], _ name: String = #function) throws -> TestHome {
        let home = try self.home(dns: dns, levels: levels, name)
        home.control("rcpthosts", "partner.test")
        home.control("concurrencyremote", "1")
        home.control("retryschedule", "1s")
        return home
    }

    /// quail-send with a backlog of four messages for a `verify` primary, one delivery at a time: one worker keeps
    /// one session, so the primary counts one connection and one handshake, every message arrives over TLS, and
    /// the log says `tls=TLSv1.… verified` for each delivery, also those on the kept session.
    @Test func aBacklogGoesOverOneKeptEncryptedSession() throws {
        let primary = try primary("127.0.129.2", try TestCA.get().issue(["primary.partner.test"]))
        let dns = try startDNSMasq(["--mx-host=partner.test,primary.partner.test,10", "--host-record=primary.partner.test,127.0.129.2"])
        let home = try sendingHome(dns: dns, levels: ["partner.test:verify"])
        for number in 1...4 {
            #expect(try home.inject("Subject: \(number)\n\nbody \(number)\n", to: ["user\(number)@partner.test"]).status == 0)
        }
        let send = try Daemon("quail-send", home: home)
        defer { send.stop() }
        #expect(waitUntil(60) { home.queueIsEmpty() }, "\(send.log)")
        let received = primary.messages()
        #expect(Set(received.compactMap { $0.envelope["to"] as? [String] }.joined()) == Set((1...4).map { "user\($0)@partner.test" }))
        #expect(received.allSatisfy { ($0.envelope["tls"] as? String)?.hasPrefix("TLSv1.") == true }, "\(received.map(\.envelope))")
        #expect(primary.connections() == 1 && primary.handshakes() == 1, "\(send.log)")
        let logged = send.log.split(separator: "\n").filter { $0.contains(": host primary.partner.test tls=TLSv1.") && $0.hasSuffix(" verified") }
        #expect(logged.count == 4, "\(send.log)")
    }

    /// quail-send delivering to a primary without STARTTLS at the default level: delivered, and the log says
    /// `tls=none`.
    @Test func quailSendLogsCleartextAsNone() throws {
        let primary = try primary("127.0.130.2", nil)
        let dns = try startDNSMasq(["--mx-host=partner.test,primary.partner.test,10", "--host-record=primary.partner.test,127.0.130.2"])
        let home = try sendingHome(dns: dns, levels: [])
        #expect(try home.inject("Subject: clear\n\nbody\n", to: ["user@partner.test"]).status == 0)
        let send = try Daemon("quail-send", home: home)
        defer { send.stop() }
        #expect(waitUntil(60) { home.queueIsEmpty() }, "\(send.log)")
        #expect(primary.messages().count == 1)
        #expect(send.log.contains(": host primary.partner.test tls=none"), "\(send.log)")
    }
}
