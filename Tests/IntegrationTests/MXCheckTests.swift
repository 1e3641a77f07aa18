import Foundation
import Glibc
import QuailCore
import Testing

/// quail-mxcheck against a zone served by dnsmasq and real servers: quail-smtpd as the backup (and as the
/// primary, whose greeting names it as the DNS does), each with a certificate from the test authority for its
/// MX name, and an HTTPS server for the MTA-STS policy where the zone publishes one.
///
/// MX hosts are reached on port 25, as senders reach them, so each test runs its servers on port 25 of
/// loopback addresses of its own (127.0.N.2 the primary, 127.0.N.3 the backup, 127.0.N.4:443 the policy
/// host mta-sts.partner.test; N from 231 up differs per test) and the tests run in parallel. The tests run as
/// root. Every `--json` run is compared with the text run of the same check.
@Suite struct MXCheckTests {
    /// Certificates from the test authority for the zone's hosts, made once: the primary's also names
    /// mail.partner.test, the alias one test lists it under.
    static let certificates: Swift.Result<(primary: TestCA.Certificate, backup: TestCA.Certificate), any Error> =
        Swift.Result {
            let authority = try TestCA.get()
            return (
                try authority.issue(["mx1.partner.test", "mail.partner.test"]),
                try authority.issue(["backup.partner.test"])
            )
        }

    /// The checker's own home: DNS from `dns`, short timeouts, the test authority in `tlsca.pem`.
    func checker(dns: SpawnedServer, timeoutRemote: Int = 3, _ name: String = #function) throws -> TestHome {
        let home = try TestHome("mx" + name)
        try FileManager.default.copyItem(
            atPath: try TestCA.get().certificatePath, toPath: home.path + "/control/tlsca.pem")
        home.control("me", "checker.test")
        home.control("resolvers", dns.address)
        home.control("timeoutconnect", "2")
        home.control("timeoutremote", String(timeoutRemote))
        return home
    }

    /// The zone: partner.test with the primary mx1 (10) at 127.0.N.2 and the backup (20) at 127.0.N.3; with
    /// `mtaSTS`, the `_mta-sts` TXT record (id 1) and mta-sts.partner.test at 127.0.N.4.
    func zone(_ subnet: Int, mtaSTS: Bool = false) throws -> SpawnedServer {
        let policyHost = [
            "--txt-record=_mta-sts.partner.test,v=STSv1; id=1", "--host-record=mta-sts.partner.test,127.0.\(subnet).4",
        ]
        return try startDNSMasq(
            [
                "--mx-host=partner.test,mx1.partner.test,10", "--mx-host=partner.test,backup.partner.test,20",
                "--host-record=mx1.partner.test,127.0.\(subnet).2",
                "--host-record=backup.partner.test,127.0.\(subnet).3",
            ] + (mtaSTS ? policyHost : []))
    }

    /// partner.test's MTA-STS policy, served on 127.0.N.4:443.
    func policy(_ subnet: Int, mode: String = "enforce", mx: [String]) throws -> PolicyServer {
        try PolicyServer(
            domain: "partner.test", address: "127.0.\(subnet).4", policy: PolicyServer.policy(mode: mode, mx: mx))
    }

    /// The primary for partner.test: quail-smtpd greeting as mx1.partner.test.
    func primary(_ subnet: Int, _ name: String = #function) throws -> (TestHome, ListeningSMTPD) {
        let home = try TestHome("mxprimary" + name)
        home.control("me", "mx1.partner.test")
        home.control("rcpthosts", "partner.test")
        home.control("locals", "partner.test")
        try home.serve(try Self.certificates.get().primary)
        return (home, try ListeningSMTPD(home, address: "127.0.\(subnet).2"))
    }

    /// A home for the backup of partner.test: quail-smtpd greeting as backup.partner.test and, with `tls`,
    /// offering STARTTLS with `certificate` (by default one for backup.partner.test).
    func backupHome(
        validating: Bool = true, tls: Bool = true, certificate: TestCA.Certificate? = nil, _ name: String = #function
    ) throws -> TestHome {
        let home = try TestHome("mxbackup" + name)
        if tls { try home.serve(try certificate ?? Self.certificates.get().backup) }
        home.control("me", "backup.partner.test")
        home.control("rcpthosts", "partner.test")
        if validating { home.control("validrcptto", "postmaster@partner.test", "user@partner.test") }
        return home
    }

    @Test func aCorrectSetupPassesEveryCheck() throws {
        let dns = try zone(231)
        let (primaryHome, mx1) = try primary(231)
        let backupHome = try backupHome()
        let backup = try ListeningSMTPD(backupHome, address: "127.0.231.3")
        let home = try checker(dns: dns)

        // Without BACKUP-HOST every MX host but the best is checked as a backup.
        let found = try mxcheck(home, ["partner.test"])
        #expect(found.status == 0, "\(found.text)")
        #expect(found.lines.allSatisfy { $0.hasPrefix("PASS ") }, "\(found.text)")
        // No MTA-STS here, so no MX host is matched against a policy.
        let expected = CheckName.allCases.filter { $0 != .backupListed && $0 != .mtaSTSMX }.map(\.rawValue)
        #expect(Set(found.checks) == Set(expected))
        #expect(
            found.lines.contains("PASS greeting backup.partner.test [127.0.231.3]:25 greets as backup.partner.test"))
        #expect(
            found.lines.contains {
                $0.hasPrefix("PASS unknown-user backup.partner.test refuses unknown user <mxcheck-")
            })

        let named = try mxcheck(home, ["partner.test", "backup.partner.test"])
        #expect(named.status == 0, "\(named.text)")
        #expect(named.lines.allSatisfy { $0.hasPrefix("PASS ") }, "\(named.text)")
        #expect(named.checks.contains("backup-listed"))
        // The backup named by its address: the MX host with that address is the backup.
        let literal = try mxcheck(home, ["partner.test", "127.0.231.3"])
        #expect(literal.status == 0, "\(literal.text)")
        #expect(
            literal.lines.contains(
                "PASS backup-listed backup.partner.test is an MX host of partner.test (preference 20)"))

        Self.expectNothingQueued(backupHome, backup)
        Self.expectNothingQueued(primaryHome, mx1)
    }

    @Test func aCNAMETargetAndABackupPreferredToThePrimaryAreEachNamed() throws {
        // The backup is listed at 5, the primary at 10 under an alias of its real name.
        let dns = try startDNSMasq([
            "--mx-host=partner.test,backup.partner.test,5", "--mx-host=partner.test,mail.partner.test,10",
            "--cname=mail.partner.test,mx1.partner.test", "--host-record=mx1.partner.test,127.0.232.2",
            "--host-record=backup.partner.test,127.0.232.3",
        ])
        let mx1 = try primary(232)
        let backupHome = try backupHome()
        let backup = try ListeningSMTPD(backupHome, address: "127.0.232.3")
        let result = try mxcheck(try checker(dns: dns), ["partner.test", "backup.partner.test"])
        #expect(result.status == 1, "\(result.text)")
        let failures = result.lines.filter { $0.hasPrefix("FAIL ") }
        #expect(failures.count == 2, "\(result.text)")
        #expect(
            failures.contains {
                $0.hasPrefix("FAIL mx-target mail.partner.test is an alias (CNAME) for mx1.partner.test")
            })
        #expect(
            failures.contains {
                $0.hasPrefix(
                    "FAIL mx-preference the backup backup.partner.test has preference 5, "
                        + "lower than the primary mail.partner.test (10)")
            })
        // The alias's host greets by its real name: worth a warning, not a failure of its own.
        #expect(
            result.lines.contains(
                "WARN greeting mail.partner.test [127.0.232.2]:25 greets as mx1.partner.test, "
                    + "not as its MX name mail.partner.test"))
        #expect(result.lines.contains { $0.hasPrefix("PASS open-relay ") })
        Self.expectNothingQueued(backupHome, backup)
        withExtendedLifetime(mx1) {}
    }

    /// An open relay by RELAYCLIENT (everything accepted) or by rcpthosts listing the foreign domain (only
    /// the plain recipient and the source route to it get through; quail refuses %, ! and quoted @ anyway).
    @Test(arguments: [
        (
            233, ["RELAYCLIENT": ""], [String](),
            ["open-relay", "relay-percent", "relay-route", "relay-quoted", "relay-bang"]
        ),
        (234, [:], ["example.com"], ["open-relay", "relay-route"]),
    ])
    func anOpenRelayBackupFails(subnet: Int, environment: [String: String], foreign: [String], failing: [String]) throws
    {
        let dns = try zone(subnet)
        let mx1 = try primary(subnet, "openRelay\(subnet)")
        let backupHome = try backupHome("openRelay\(subnet)")
        backupHome.control("rcpthosts", (["partner.test"] + foreign).joined(separator: "\n"))
        // BACKUP-HOST:PORT: the backup is reached on 2525, greeting included.
        let backup = try ListeningSMTPD(backupHome, address: "127.0.\(subnet).3", port: 2525, environment: environment)
        let result = try mxcheck(
            try checker(dns: dns, "openRelay\(subnet)"), ["partner.test", "backup.partner.test:2525"])
        #expect(result.status == 1, "\(result.text)")
        #expect(
            result.lines.filter { $0.hasPrefix("FAIL ") }.map { $0.split(separator: " ")[1] }
                == failing.map { Substring($0) })
        #expect(
            result.lines.contains {
                $0.hasPrefix("FAIL open-relay backup.partner.test accepts <mxcheck@example.com>: 250")
            })
        #expect(
            result.lines.contains(
                "PASS greeting backup.partner.test [127.0.\(subnet).3]:2525 greets as backup.partner.test"))
        Self.expectNothingQueued(backupHome, backup)
        withExtendedLifetime(mx1) {}
    }

    @Test func aBackupThatDoesNotValidateRecipientsIsAWarning() throws {
        let dns = try zone(235)
        let mx1 = try primary(235)
        let backupHome = try backupHome(validating: false)
        let backup = try ListeningSMTPD(backupHome, address: "127.0.235.3")
        let result = try mxcheck(try checker(dns: dns), ["partner.test", "backup.partner.test"])
        #expect(result.status == 0, "\(result.text)")
        #expect(
            result.lines.filter { !$0.hasPrefix("PASS ") }.map {
                $0.split(separator: " ").prefix(2).joined(separator: " ")
            } == ["WARN unknown-user"])
        #expect(result.lines.contains { $0.contains("backscatter") })
        Self.expectNothingQueued(backupHome, backup)
        withExtendedLifetime(mx1) {}
    }

    @Test func aHostThatRefusesOrNeverGreetsFailsWithinTheTimeouts() throws {
        // Nothing listens at the primary's address; the backup accepts connections but never says a word.
        let dns = try zone(236)
        let silent = try SpawnedServer(
            "/usr/bin/env", ["python3", "-c", Self.silentServer, "127.0.236.3"], address: "127.0.236.3:25",
            readyLine: "ready")
        let started = ContinuousClock.now
        let result = try mxcheck(try checker(dns: dns, timeoutRemote: 1), ["partner.test"], json: false)
        #expect(ContinuousClock.now - started < .seconds(15))
        #expect(result.status == 1, "\(result.text)")
        #expect(result.lines.contains { $0.hasPrefix("FAIL greeting mx1.partner.test [127.0.236.2]:25: connect:") })
        #expect(result.lines.contains { $0.hasPrefix("FAIL greeting backup.partner.test [127.0.236.3]:25: timed out") })
        #expect(
            result.lines.contains {
                $0.hasPrefix("FAIL backup-accepts backup.partner.test [127.0.236.3]:25: connection lost: timed out")
            })
        withExtendedLifetime(silent) {}
    }

    /// Both hosts offer STARTTLS with certificates for their MX names from an authority in `tlsca.pem`, and both
    /// match the enforced MTA-STS policy, whose mode and max_age are shown. Without the authority in `tlsca.pem`,
    /// neither the certificates nor the policy host's verify.
    @Test func aCorrectTLSSetupWithMTASTSPasses() throws {
        let dns = try zone(237, mtaSTS: true)
        let policy = try policy(237, mx: ["mx1.partner.test", "*.partner.test"])
        let mx1 = try primary(237)
        let backupHome = try backupHome()
        let backup = try ListeningSMTPD(backupHome, address: "127.0.237.3")
        let home = try checker(dns: dns)
        let result = try mxcheck(home, ["partner.test", "backup.partner.test"])
        #expect(result.status == 0, "\(result.text)")
        #expect(result.lines.allSatisfy { $0.hasPrefix("PASS ") }, "\(result.text)")
        #expect(Set(result.checks) == Set(CheckName.allCases.map(\.rawValue)), "\(result.text)")
        #expect(
            result.lines.contains(
                "PASS mta-sts partner.test publishes MTA-STS policy id 1: mode enforce, max_age 604800 (7 days), "
                    + "mx: mx1.partner.test *.partner.test"), "\(result.text)")
        #expect(
            result.lines.contains("PASS mta-sts-mx mx1.partner.test matches the MTA-STS policy's mx: mx1.partner.test"))
        #expect(
            result.lines.contains("PASS mta-sts-mx backup.partner.test matches the MTA-STS policy's mx: *.partner.test")
        )
        for host in ["mx1.partner.test [127.0.237.2]:25", "backup.partner.test [127.0.237.3]:25"] {
            #expect(result.lines.contains { $0.hasPrefix("PASS starttls \(host) offers STARTTLS: TLSv1.3 ") })
            #expect(
                result.lines.contains {
                    $0.hasPrefix("PASS certificate \(host): the certificate is valid for \(host.prefix { $0 != " " })")
                }, "\(result.text)")
        }
        #expect(policy.requests().contains("/.well-known/mta-sts.txt"))
        let json = try Programs.run("quail-mxcheck", ["--json", "partner.test"], environment: home.environment)
        #expect(
            try python(Self.policyReader, input: Array(json.stdout.utf8))
                == "1 enforce 604800 mx1.partner.test,*.partner.test")

        unlink(home.path + "/control/tlsca.pem")
        let untrusted = try mxcheck(home, ["partner.test", "backup.partner.test"])
        #expect(untrusted.status == 1)
        #expect(
            untrusted.lines.filter { $0.hasPrefix("FAIL ") }.map { $0.split(separator: " ")[1] }
                == ["mta-sts", "certificate", "certificate"], "\(untrusted.text)")
        #expect(untrusted.lines.contains { $0.contains("unable to get local issuer certificate: senders that verify") })
        Self.expectNothingQueued(backupHome, backup)
        withExtendedLifetime(mx1) {}
    }

    /// The backup's certificate is from the trusted authority but for another host; the primary's is right.
    @Test func aBackupWhoseCertificateNamesAnotherHostFails() throws {
        let dns = try zone(238)
        let mx1 = try primary(238)
        let wrongName = try TestCA.get().issue(["other.partner.test"])
        let backupHome = try backupHome(certificate: wrongName)
        let backup = try ListeningSMTPD(backupHome, address: "127.0.238.3")
        let result = try mxcheck(try checker(dns: dns), ["partner.test"])
        #expect(result.status == 1, "\(result.text)")
        #expect(
            result.lines.filter { !$0.hasPrefix("PASS ") } == [
                "FAIL certificate backup.partner.test [127.0.238.3]:25: the certificate is not valid for "
                    + "backup.partner.test: hostname mismatch: senders that verify certificates (MTA-STS enforce, "
                    + "Postfix's verify) skip this host"
            ], "\(result.text)")
        #expect(result.lines.contains { $0.hasPrefix("PASS certificate mx1.partner.test [127.0.238.2]:25: ") })
        Self.expectNothingQueued(backupHome, backup)
        withExtendedLifetime(mx1) {}
    }

    /// An expired certificate fails, saying since when; one that expires within 14 days is a warning.
    @Test(arguments: [
        (
            239, TestCA.Validity.expired, "FAIL",
            "is not valid for backup.partner.test: certificate has expired (it expired "
        ),
        (243, .days(10), "WARN", "is valid for backup.partner.test but expires in 10 days: renew it"),
    ])
    func anExpiredOrExpiringCertificateIsNamed(subnet: Int, validity: TestCA.Validity, status: String, says: String)
        throws
    {
        let dns = try zone(subnet)
        let mx1 = try primary(subnet, "expiring\(subnet)")
        let certificate = try TestCA.get().issue(["backup.partner.test"], validity)
        let backupHome = try backupHome(certificate: certificate, "expiring\(subnet)")
        let backup = try ListeningSMTPD(backupHome, address: "127.0.\(subnet).3")
        let result = try mxcheck(try checker(dns: dns, "expiring\(subnet)"), ["partner.test", "backup.partner.test"])
        #expect(result.status == (status == "FAIL" ? 1 : 0), "\(result.text)")
        let named = result.lines.filter { !$0.hasPrefix("PASS ") }
        #expect(named.count == 1, "\(result.text)")
        #expect(
            named.first?.hasPrefix(
                "\(status) certificate backup.partner.test [127.0.\(subnet).3]:25: the certificate "
                    + says) == true, "\(result.text)")
        Self.expectNothingQueued(backupHome, backup)
        withExtendedLifetime(mx1) {}
    }

    /// The policy names only the primary: senders that enforce it never use the backup.
    @Test func aBackupMissingFromTheMTASTSMXListFails() throws {
        let dns = try zone(240, mtaSTS: true)
        let policy = try policy(240, mx: ["mx1.partner.test"])
        let mx1 = try primary(240)
        let backupHome = try backupHome()
        let backup = try ListeningSMTPD(backupHome, address: "127.0.240.3")
        let result = try mxcheck(try checker(dns: dns), ["partner.test", "backup.partner.test"])
        #expect(result.status == 1, "\(result.text)")
        #expect(
            result.lines.filter { !$0.hasPrefix("PASS ") } == [
                "FAIL mta-sts-mx backup.partner.test matches none of the MTA-STS policy's mx: patterns "
                    + "(mx1.partner.test): senders that enforce the policy never deliver to it, so it is no backup for them"
            ], "\(result.text)")
        #expect(
            result.lines.contains {
                $0.hasPrefix("PASS mta-sts partner.test publishes MTA-STS policy id 1: mode enforce")
            })
        Self.expectNothingQueued(backupHome, backup)
        withExtendedLifetime((mx1, policy)) {}
    }

    /// A backup without STARTTLS: a warning, unless the domain's MTA-STS policy enforces TLS.
    @Test(arguments: [(241, false), (242, true)])
    func noSTARTTLSIsAWarningAndUnderEnforceAFailure(subnet: Int, enforced: Bool) throws {
        let dns = try zone(subnet, mtaSTS: enforced)
        let policy = enforced ? try policy(subnet, mx: ["*.partner.test"]) : nil
        let mx1 = try primary(subnet, "noTLS\(subnet)")
        let backupHome = try backupHome(tls: false, "noTLS\(subnet)")
        let backup = try ListeningSMTPD(backupHome, address: "127.0.\(subnet).3")
        let result = try mxcheck(try checker(dns: dns, "noTLS\(subnet)"), ["partner.test", "backup.partner.test"])
        #expect(result.status == (enforced ? 1 : 0), "\(result.text)")
        let said =
            enforced
            ? "FAIL starttls backup.partner.test [127.0.\(subnet).3]:25 does not offer STARTTLS: senders that enforce "
                + "the domain's MTA-STS policy skip it"
            : "WARN starttls backup.partner.test [127.0.\(subnet).3]:25 does not offer STARTTLS: mail reaches it in "
                + "cleartext, and senders that require TLS skip it"
        #expect(result.lines.filter { !$0.hasPrefix("PASS ") } == [said], "\(result.text)")
        Self.expectNothingQueued(backupHome, backup)
        withExtendedLifetime((mx1, policy)) {}
    }

    @Test func unreachableDNSMeansItCouldNotCheck() throws {
        let home = try TestHome("mxNoDNS")
        home.control("resolvers", "127.0.0.1:\(try LoopbackDNS.unusedPort())")
        let text = try Programs.run(
            "quail-mxcheck", ["partner.test", "backup.partner.test"], environment: home.environment)
        #expect(text.status == 111)
        #expect(text.stdout.isEmpty)
        #expect(text.stderr.contains("quail-mxcheck: cannot check: DNS: partner.test MX:"))
        let json = try Programs.run("quail-mxcheck", ["--json", "partner.test"], environment: home.environment)
        #expect(json.status == 111)
        let parsed = try python(Self.jsonReader, input: Array(json.stdout.utf8))
        #expect(parsed == "OVERALL ERROR 111")
    }

    @Test func badUsageExits100() throws {
        let outcome = try Programs.run("quail-mxcheck", ["--verbose", "partner.test"])
        #expect(outcome.status == 100)
        #expect(outcome.stderr.contains("usage: quail-mxcheck [--json] DOMAIN [BACKUP-HOST[:PORT]]"))
    }

    // MARK: - Helpers

    /// What one check printed: its exit status and its lines.
    struct Result {
        var status: Int32
        var lines: [String]
        var text: String { lines.joined(separator: "\n") }
        var checks: [String] { lines.map { String($0.split(separator: " ")[1]) } }
    }

    /// Runs quail-mxcheck; with `json`, runs it again with `--json` and checks that Python's json reads the
    /// same lines, the same overall status and the same exit status.
    func mxcheck(
        _ home: TestHome, _ arguments: [String], json: Bool = true, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Result {
        let text = try Programs.run("quail-mxcheck", arguments, environment: home.environment)
        let lines = text.stdout.split(separator: "\n").map(String.init)
        let result = Result(status: text.status, lines: lines)
        guard json else { return result }
        let second = try Programs.run("quail-mxcheck", ["--json"] + arguments, environment: home.environment)
        #expect(second.status == text.status, sourceLocation: sourceLocation)
        let report = try python(Self.jsonReader, input: Array(second.stdout.utf8))
        let parsed = report.split(separator: "\n").map(String.init)
        let worst =
            lines.contains { $0.hasPrefix("FAIL") } ? "FAIL" : lines.contains { $0.hasPrefix("WARN") } ? "WARN" : "PASS"
        // Each run makes up its own unknown user.
        #expect(
            parsed.map(Self.sameUser) == (lines + ["OVERALL \(worst) \(text.status)"]).map(Self.sameUser),
            sourceLocation: sourceLocation)
        return result
    }

    /// `line` with the random `mxcheck-XXXXXXXXXXXX` user replaced by a fixed one.
    static func sameUser(_ line: String) -> String {
        guard let range = line.range(of: "<mxcheck-") else { return line }
        let end = line.index(range.upperBound, offsetBy: 12, limitedBy: line.endIndex) ?? line.endIndex
        return line.replacingCharacters(in: range.upperBound..<end, with: "user")
    }

    /// Prints each check of a quail-mxcheck JSON report as a text line, then the overall status and exit.
    static let jsonReader = """
        import json, sys
        report = json.load(sys.stdin)
        for check in report["checks"]:
            assert set(check) == {"status", "check", "reason"}, check
            print(check["status"], check["check"], check["reason"])
        print("OVERALL", report["overall"], report["exit"])
        """

    /// Prints the JSON report's `mta_sts` object: id, mode, max_age and the mx patterns.
    static let policyReader = """
        import json, sys
        policy = json.load(sys.stdin)["mta_sts"]
        print(policy["id"], policy["mode"], policy["max_age"], ",".join(policy["mx"]))
        """

    /// Accepts connections (the kernel completes them) and never answers.
    static let silentServer = """
        import socket, sys, time
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((sys.argv[1], 25))
        s.listen(16)
        print("ready", flush=True)
        time.sleep(3600)
        """

    /// DATA was never sent: nothing reached the queue and no message was logged.
    static func expectNothingQueued(
        _ home: TestHome, _ server: ListeningSMTPD, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(home.todoCount() == 0, sourceLocation: sourceLocation)
        #expect(!server.log.contains(": message "), "\(server.log)", sourceLocation: sourceLocation)
        #expect(server.log.contains(": connect"), sourceLocation: sourceLocation)
    }
}

/// `quail-smtpd --listen ADDRESS:PORT` with its own home, started with posix_spawn (see ServerHarness for
/// why not Foundation's Process); stopped with SIGTERM, then SIGKILL, and reaped when released.
final class ListeningSMTPD {
    let pid: pid_t
    let logPath: String

    init(_ home: TestHome, address: String, port: UInt16 = 25, environment: [String: String] = [:]) throws {
        logPath = home.path + "/quail-smtpd.log"
        let log = try FileIO.open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode: 0o644)
        defer { close(log) }
        let null = try FileIO.open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(null) }
        let settings = home.environment.merging(environment) { $1 }
        let inherited = ChildProcess.currentEnvironment().filter { entry in
            !(["QUAIL_HOME", "QUAIL_USER", "RELAYCLIENT"] + settings.keys).contains { entry.hasPrefix($0 + "=") }
        }
        pid = try ChildProcess.spawn(
            Programs.path("quail-smtpd"), arguments: ["--listen", "\(address):\(port)"],
            environment: inherited + settings.map { "\($0.key)=\($0.value)" }, stdin: null, stdout: log, stderr: log)
        let child = pid
        guard waitUntil(20, { self.log.contains("listening on") || waitpid(child, nil, WNOHANG) != 0 }),
            self.log.contains("listening on")
        else {
            throw HarnessError("quail-smtpd --listen \(address):\(port) did not start: \(self.log)")
        }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    deinit {
        kill(pid, SIGTERM)
        if !waitUntil(10, { waitpid(pid, nil, WNOHANG) != 0 }) {
            kill(pid, SIGKILL)
            waitpid(pid, nil, 0)
        }
    }
}
