import Foundation
import Glibc
import QuailCore
import Testing

/// quail-remote against real servers: dnsmasq for MX, A and CNAME records, aiosmtpd as the primary.
///
/// MX hosts are reached on port 25, so each test runs its servers on port 25 of loopback addresses of its
/// own (127.0.N.2, 127.0.N.3; N differs per test), and the tests run in parallel. The tests run as root.
/// 127.0.0.1 is this host by its interface; any other 127/8 address is not, unless `moreipme` says so.
@Suite struct RemoteDeliveryTests {
    static let message = "From: a@b.test\nSubject: hello\n\n.leading dot\nbody line\n..two dots\nlast line\n"

    /// A home whose resolver is `dns`, with short timeouts.
    func home(dns: SpawnedServer, _ name: String = #function) throws -> TestHome {
        let home = try TestHome(name)
        home.control("resolvers", dns.address)
        home.control("timeoutconnect", "5")
        home.control("timeoutremote", "10")
        return home
    }

    func dns(_ records: String...) throws -> SpawnedServer { try startDNSMasq(records) }

    func remote(_ home: TestHome, _ domain: String, _ recipients: String..., message: String = message)
        throws -> [String]
    {
        let outcome = try Programs.run(
            "quail-remote", [domain, "sender@b.test"] + recipients, stdin: Array(message.utf8),
            environment: home.environment)
        #expect(outcome.status == 0, "quail-remote: \(outcome.stderr)")
        return outcome.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    /// `message` as it must arrive: every line end CRLF (aiosmtpd hands back the data without dot-stuffing).
    static func crlf(_ text: String) -> [UInt8] { Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8) }

    @Test func deliveredByteIdenticalApartFromLineEnds() throws {
        let primary = try RecordingPrimary("127.0.101.2")
        let dns = try dns("--mx-host=mail.test,mx1.mail.test,10", "--host-record=mx1.mail.test,127.0.101.2")
        let lines = try remote(try home(dns: dns), "mail.test", "user@mail.test", "other@mail.test")
        #expect(lines == ["K250 2.0.0 queued as 1", "K250 2.0.0 queued as 1", "Hup mx1.mail.test 127.0.101.2"])
        let received = primary.messages()
        #expect(received.count == 1)
        #expect(received.first?.data == Self.crlf(Self.message))
        #expect(received.first?.envelope["to"] as? [String] == ["user@mail.test", "other@mail.test"])
        #expect(received.first?.envelope["from"] as? String == "sender@b.test")
        #expect(received.first?.envelope["helo"] as? String == "quail.test")
    }

    @Test func aBareCRArrivesAsOneMessageWithOnlyCRLF() throws {
        let primary = try RecordingPrimary("127.0.102.2")
        let dns = try dns("--mx-host=mail.test,mx1.mail.test,10", "--host-record=mx1.mail.test,127.0.102.2")
        // A bare CR before "." would end DATA early at a server that takes CR as a line end.
        let message = "Subject: smuggle\n\nfirst\r.\rMAIL FROM:<evil@x.test>\rlast\n"
        #expect(try remote(try home(dns: dns), "mail.test", "u@mail.test", message: message).first?.hasPrefix("K") == true)
        let received = primary.messages()
        #expect(received.count == 1)
        let expected = "Subject: smuggle\r\n\r\nfirst\r\n.\r\nMAIL FROM:<evil@x.test>\r\nlast\r\n"
        #expect(received.first.map { String(decoding: $0.data, as: UTF8.self) } == expected)
    }

    @Test func mxOrderAndFallbackWhenTheFirstRefusesConnections() throws {
        let second = try RecordingPrimary("127.0.103.2")
        let third = try RecordingPrimary("127.0.103.4")
        let dns = try dns(
            "--mx-host=mail.test,dead.mail.test,10", "--mx-host=mail.test,mx2.mail.test,20",
            "--mx-host=mail.test,mx3.mail.test,30", "--host-record=dead.mail.test,127.0.103.3",
            "--host-record=mx2.mail.test,127.0.103.2", "--host-record=mx3.mail.test,127.0.103.4")
        #expect(try remote(try home(dns: dns), "mail.test", "u@mail.test") == ["K250 2.0.0 queued as 1", "Hup mx2.mail.test 127.0.103.2"])
        #expect(second.messages().count == 1)
        #expect(third.messages().isEmpty)
    }

    @Test func aBackupAtTwentyDeliversToThePrimaryAtTen() throws {
        let primary = try RecordingPrimary("127.0.104.2")
        let dns = try dns(
            "--mx-host=partner2.test,mx1.partner2.test,10", "--mx-host=partner2.test,backup.quail.test,20",
            "--host-record=mx1.partner2.test,127.0.104.2", "--host-record=backup.quail.test,127.0.104.9")
        let home = try home(dns: dns)
        home.control("moreipme", "127.0.104.9")
        home.control("rcpthosts", "partner2.test")
        #expect(try remote(home, "partner2.test", "u@partner2.test") == ["K250 2.0.0 queued as 1", "Hup mx1.partner2.test 127.0.104.2"])
        #expect(primary.messages().count == 1)
    }

    @Test func weAreTheBestMXSoNothingIsSentAnywhere() throws {
        // Our MX 10 is 127.0.0.1 (an interface address); the working server at 20 must not get the mail.
        let worse = try RecordingPrimary("127.0.105.3")
        let dns = try dns(
            "--mx-host=partner2.test,backup.quail.test,10", "--mx-host=partner2.test,mx2.partner2.test,20",
            "--host-record=backup.quail.test,127.0.0.1", "--host-record=mx2.partner2.test,127.0.105.3")
        let home = try home(dns: dns)
        home.control("rcpthosts", "partner2.test")
        #expect(
            try remote(home, "partner2.test", "u@partner2.test", "v@partner2.test") == [
                "Zthis host is the best MX for partner2.test and partner2.test is not in locals (loops back to myself) (#4.4.6)",
                "Zthis host is the best MX for partner2.test and partner2.test is not in locals (loops back to myself) (#4.4.6)",
                "Hdown loops back to myself",
            ])
        #expect(worse.connections() == 0)
    }

    @Test func cnameTargetsAndImplicitMX() throws {
        let primary = try RecordingPrimary("127.0.106.2")
        let dns = try dns(
            "--mx-host=aliased.test,alias.aliased.test,10", "--cname=alias.aliased.test,real.aliased.test",
            "--host-record=real.aliased.test,127.0.106.2", "--host-record=implicit.test,127.0.106.2")
        let home = try home(dns: dns)
        #expect(try remote(home, "aliased.test", "u@aliased.test") == ["K250 2.0.0 queued as 1", "Hup alias.aliased.test 127.0.106.2"])
        #expect(try remote(home, "implicit.test", "u@implicit.test") == ["K250 2.0.0 queued as 2", "Hup implicit.test 127.0.106.2"])
        #expect(primary.messages().count == 2)
    }

    @Test func nullMXAndNoSuchDomainFailPermanently() throws {
        let dns = try dns("--dns-rr=nullmx.test,15,000000")
        let home = try home(dns: dns)
        #expect(
            try remote(home, "nullmx.test", "u@nullmx.test") == [
                "D" + RemoteReply.nullMX, "Hdown null MX for nullmx.test",
            ])
        let lines = try remote(home, "nowhere.test", "u@nowhere.test", "v@nowhere.test")
        #expect(lines.count == 3)
        #expect(lines.prefix(2).allSatisfy { $0.hasPrefix("D") && $0.hasSuffix("(#5.1.2)") })
    }

    @Test func dnsFailureAndNothingListeningAreTemporaryAndDown() throws {
        let failing = try LoopbackDNS.python("servfail")
        let home = try TestHome()
        home.control("resolvers", failing.address)
        let lines = try remote(home, "mail.test", "u@mail.test")
        #expect(lines.count == 2 && lines[0].hasPrefix("Z") && lines[0].hasSuffix("(#4.4.3)") && lines[1].hasPrefix("Hdown DNS:"))
        // MX records pointing at addresses where nothing listens.
        let dns = try dns("--mx-host=mail.test,mx1.mail.test,10", "--host-record=mx1.mail.test,127.0.107.2,127.0.107.3")
        let dead = try remote(try self.home(dns: dns), "mail.test", "u@mail.test")
        #expect(dead.count == 2 && dead[0].hasPrefix("Z") && dead[0].hasSuffix("(#4.4.1)"))
        #expect(dead[1].hasPrefix("Hdown mx1.mail.test [127.0.107.3]: connect:"))
    }

    @Test func smtproutesWithAPortAndTheCatchAllIsNotForBackedUpDomains() throws {
        let port = try LoopbackDNS.unusedPort()
        let relay = try RecordingPrimary("127.0.108.2", port: port)
        let smarthost = try RecordingPrimary("127.0.108.3", port: port)
        let primary = try RecordingPrimary("127.0.108.4")
        let dns = try dns(
            "--host-record=relay.route.test,127.0.108.2", "--mx-host=partner2.test,mx1.partner2.test,10",
            "--host-record=mx1.partner2.test,127.0.108.4")
        let home = try home(dns: dns)
        home.control("rcpthosts", "partner2.test")
        home.control("smtproutes", "routed.test:relay.route.test:\(port)", "literal.test:[127.0.108.2]:\(port)", ":[127.0.108.3]:\(port)")
        #expect(try remote(home, "routed.test", "u@routed.test") == ["K250 2.0.0 queued as 1", "Hup relay.route.test 127.0.108.2"])
        #expect(try remote(home, "literal.test", "u@literal.test") == ["K250 2.0.0 queued as 2", "Hup [127.0.108.2] 127.0.108.2"])
        #expect(try remote(home, "elsewhere.test", "u@elsewhere.test") == ["K250 2.0.0 queued as 1", "Hup [127.0.108.3] 127.0.108.3"])
        #expect(try remote(home, "partner2.test", "u@partner2.test") == ["K250 2.0.0 queued as 1", "Hup mx1.partner2.test 127.0.108.4"])
        #expect(relay.messages().count == 2 && smarthost.messages().count == 1 && primary.messages().count == 1)
        #expect(primary.messages().first?.envelope["to"] as? [String] == ["u@partner2.test"])
    }

    /// The same replies with and without PIPELINING offered: pipelined, MAIL, the RCPTs and DATA go out in one
    /// write and each reply still lands on its own recipient.
    @Test(arguments: [(false, "127.0.109.2"), (true, "127.0.110.2")])
    func serverRefusalsBecomeZAndDWithTheRemoteText(pipelining: Bool, address: String) throws {
        let primary = try RecordingPrimary(address, pipelining: pipelining)
        let dns = try dns("--mx-host=mail.test,mx1.mail.test,10", "--host-record=mx1.mail.test,\(address)")
        let home = try home(dns: dns)
        #expect(
            try remote(home, "mail.test", "temp@mail.test", "ok@mail.test", "reject@mail.test") == [
                "Z451 4.7.1 try again later, temp", "K250 2.0.0 queued as 1", "D550 5.1.1 no such user reject",
                "Hup mx1.mail.test \(address)",
            ])
        #expect(primary.messages().first?.data == Self.crlf(Self.message))
        #expect(primary.pipelinedTransactions() == (pipelining ? 1 : 0))
        // Refused after DATA: every accepted recipient shares the final reply; multi-line joined.
        #expect(try remote(home, "mail.test", "datafail@mail.test", "ok@mail.test").prefix(2) == [
            "D554 5.6.0 message refused 5.6.0 content rejected here", "D554 5.6.0 message refused 5.6.0 content rejected here",
        ])
        #expect(try remote(home, "mail.test", "datatemp@mail.test").first == "Z452 4.3.1 insufficient system storage")
        // Nobody accepted: still a host that spoke, so the destination is up.
        #expect(try remote(home, "mail.test", "temp2@mail.test") == ["Z451 4.7.1 try again later, temp2", "Hup mx1.mail.test \(address)"])
        #expect(primary.messages().count == 1)
    }

    @Test func usageErrorPrintsNothingAndExits111() throws {
        let outcome = try Programs.run("quail-remote", ["mail.test", "sender@b.test"], environment: try TestHome().environment)
        #expect(outcome.status == 111 && outcome.stdout.isEmpty)
    }
}
