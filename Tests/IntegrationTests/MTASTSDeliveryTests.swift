import Foundation
import Glibc
import QuailCore
import Testing

/// MTA-STS (RFC 8461) in delivery, against real peers: dnsmasq gives the MX hosts, the `_mta-sts` TXT record and
/// the policy host's address; `PolicyServer` serves the policy over HTTPS with a certificate of the test
/// authority; two quail-smtpd primaries on port 25 offer STARTTLS with certificates for their MX names.
@Suite(.serialized) struct MTASTSDeliveryTests {
    static let network = "127.0.187"
    static let mx1 = network + ".1"
    static let mx2 = network + ".2"
    static let policyHost = network + ".9"

    /// A primary: quail-smtpd on `address`:25 with a certificate for `name`, taking partner.test mail.
    final class Primary {
        let home: TestHome
        let daemon: Daemon

        init(_ name: String, _ address: String) throws {
            home = try TestHome("mtasts-\(name)")
            home.control("rcpthosts", "partner.test")
            home.control("me", name)
            try home.serve(try TestCA.get().issue([name]))
            daemon = try Daemon("quail-smtpd", ["--listen", "\(address):25"], home: home)
            guard waitUntil(20, { daemon.log.contains("listening on") }) else { throw HarnessError("primary \(name): \(daemon.log)") }
        }

        var messages: Int { home.todoCount() }
    }

    func dns(id: String?) throws -> SpawnedServer {
        try startDNSMasq([
            "--mx-host=partner.test,mx1.partner.test,10", "--mx-host=partner.test,mx2.partner.test,20",
            "--host-record=mx1.partner.test,\(Self.mx1)", "--host-record=mx2.partner.test,\(Self.mx2)",
            "--host-record=mta-sts.partner.test,\(Self.policyHost)",
        ] + (id.map { ["--txt-record=_mta-sts.partner.test,v=STSv1; id=\($0)"] } ?? []))
    }

    /// A backup whose resolver is `dns` and that trusts the test authority.
    func backup(_ dns: SpawnedServer, _ name: String = #function) throws -> TestHome {
        let home = try TestHome(name)
        home.control("resolvers", dns.address)
        home.control("timeoutconnect", "5")
        home.control("timeoutremote", "10")
        try FileManager.default.copyItem(atPath: try TestCA.get().certificatePath, toPath: home.path + "/control/tlsca.pem")
        return home
    }

    /// One-shot quail-remote: its report lines and its log.
    func remote(_ home: TestHome) throws -> (lines: [String], log: String) {
        let outcome = try Programs.run("quail-remote", ["partner.test", "sender@b.test", "user@partner.test"],
                                       stdin: Array("Subject: sts\n\nbody\n".utf8), environment: home.environment)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        return (outcome.stdout.split(separator: "\n").map(String.init), outcome.stderr)
    }

    @Test func enforceSkipsHostsThePolicyDoesNotNameAndDefersWhenNoneIsNamed() throws {
        let primaries = (try Primary("mx1.partner.test", Self.mx1), try Primary("mx2.partner.test", Self.mx2))
        let policy = try PolicyServer(domain: "partner.test", address: Self.policyHost,
                                      policy: PolicyServer.policy(mode: "enforce", mx: ["mx2.partner.test"]))
        let dns = try dns(id: "one")
        let home = try backup(dns)
        let (lines, _) = try remote(home)
        #expect(lines.first?.hasPrefix("K") == true && lines.last?.hasPrefix("Hup mx2.partner.test \(Self.mx2) TLSv1.") == true, "\(lines)")
        #expect(lines.last?.hasSuffix("verified") == true, "\(lines)")
        #expect(primaries.0.messages == 0 && primaries.1.messages == 1, "the better MX is not named, so it is skipped")
        #expect(policy.requests() == ["/.well-known/mta-sts.txt"])
        #expect(FileManager.default.fileExists(atPath: home.path + "/queue/mta-sts/partner.test"), "the policy is cached")

        // A new policy under a new id names no host of the domain: nothing goes anywhere.
        try policy.publish(PolicyServer.policy(mode: "enforce", mx: ["elsewhere.partner.test"]))
        let renamed = try self.dns(id: "two")
        home.control("resolvers", renamed.address)
        let (refused, _) = try remote(home)
        #expect(refused.first?.hasPrefix("Z") == true && refused.first?.contains("MTA-STS") == true, "\(refused)")
        #expect(primaries.0.messages == 0 && primaries.1.messages == 1)
        #expect(policy.requests().count == 2, "a changed id refetches")
        withExtendedLifetime(dns) {}
    }

    @Test func theCachedPolicyHoldsUntilItsIdChangesEvenWithoutTheRecord() throws {
        let primaries = (try Primary("mx1.partner.test", Self.mx1), try Primary("mx2.partner.test", Self.mx2))
        let policy = try PolicyServer(domain: "partner.test", address: Self.policyHost,
                                      policy: PolicyServer.policy(mode: "enforce", mx: ["mx2.partner.test"]))
        let dns = try dns(id: "one")
        let home = try backup(dns)
        _ = try remote(home)
        // The host publishes another policy but the id stays: the cache serves, no fetch.
        try policy.publish(PolicyServer.policy(mode: "enforce", mx: ["mx1.partner.test"]))
        _ = try remote(home)
        #expect(policy.requests().count == 1)
        #expect(primaries.1.messages == 2)
        // The record vanishes: the cached policy stays in force until its max_age (§5.1).
        let gone = try self.dns(id: nil)
        home.control("resolvers", gone.address)
        _ = try remote(home)
        #expect(primaries.1.messages == 3 && primaries.0.messages == 0)
        // A new id: fetched, and the new policy's host gets the mail.
        let renewed = try self.dns(id: "two")
        home.control("resolvers", renewed.address)
        _ = try remote(home)
        #expect(policy.requests().count == 2)
        #expect(primaries.0.messages == 1)
        withExtendedLifetime((dns, gone)) {}
    }

    @Test func testingDeliversAsUsualAndLogsWhatEnforceWouldSkip() throws {
        let primaries = (try Primary("mx1.partner.test", Self.mx1), try Primary("mx2.partner.test", Self.mx2))
        let policy = try PolicyServer(domain: "partner.test", address: Self.policyHost,
                                      policy: PolicyServer.policy(mode: "testing", mx: ["mx2.partner.test"]))
        let dns = try dns(id: "one")
        let (lines, log) = try remote(try backup(dns))
        #expect(lines.last?.hasPrefix("Hup mx1.partner.test") == true, "\(lines)")
        #expect(primaries.0.messages == 1)
        #expect(log.contains("MTA-STS partner.test: testing: enforce would skip mx1.partner.test"), "\(log)")
        withExtendedLifetime(policy) {}
    }

    @Test func aTLSDestinationsLineNamingTheDomainWinsTheDefaultLineDoesNot() throws {
        let primaries = (try Primary("mx1.partner.test", Self.mx1), try Primary("mx2.partner.test", Self.mx2))
        let policy = try PolicyServer(domain: "partner.test", address: Self.policyHost,
                                      policy: PolicyServer.policy(mode: "enforce", mx: ["mx2.partner.test"]))
        let dns = try dns(id: "one")
        let home = try backup(dns)
        home.control("tlsdestinations", ":may")
        _ = try remote(home)
        #expect(primaries.1.messages == 1, "the default line does not override the policy")
        home.control("tlsdestinations", "partner.test:may")
        _ = try remote(home)
        #expect(primaries.0.messages == 1, "a line naming the domain does")
        withExtendedLifetime(policy) {}
    }
}
