import Testing

@testable import QuailCore

extension MXCheckLibrary {
    @Suite struct DNSChecksTests {
        static func mx(_ records: (UInt16, String)...) -> DNSResult {
            .records(records.map { DNSRecord(name: "partner.test", data: .mx(preference: $0.0, exchange: $0.1)) })
        }

        @Test func mxRecordsAreListedBestFirstWithEqualPreferencesByName() throws {
            let (results, hosts) = try DNSChecks.mxRecords(
                domain: "partner.test",
                answer: Self.mx((20, "b.partner.test"), (10, "z.partner.test"), (10, "a.partner.test")))
            #expect(hosts.map(\.name) == ["a.partner.test", "z.partner.test", "b.partner.test"])
            #expect(
                results == [
                    CheckResult(
                        .pass, .mxRecords,
                        "partner.test has 3 MX records: 10 a.partner.test, 10 z.partner.test, 20 b.partner.test")
                ])
        }

        @Test(arguments: [
            (DNSResult.noSuchDomain, "partner.test does not exist (NXDOMAIN)"),
            (
                .noRecords,
                "partner.test has no MX records: senders use its own address (RFC 5321 §5.1) and no backup is listed"
            ),
            (mx((0, "")), "partner.test has a null MX (RFC 7505): it accepts no mail"),
        ])
        func missingMXRecordsFail(answer: DNSResult, reason: String) throws {
            let (results, hosts) = try DNSChecks.mxRecords(domain: "partner.test", answer: answer)
            #expect(results == [CheckResult(.fail, .mxRecords, reason)])
            #expect(hosts.isEmpty)
        }

        @Test func aNullMXAmongRealOnesFailsButTheRealOnesAreChecked() throws {
            let (results, hosts) = try DNSChecks.mxRecords(
                domain: "partner.test", answer: Self.mx((0, ""), (10, "mx1.partner.test")))
            #expect(results.map(\.status) == [.pass, .fail])
            #expect(hosts == [MXHost(name: "mx1.partner.test", preference: 10)])
        }

        @Test func aDNSFailureMeansNoCheckAtAll() {
            #expect(throws: MXCheckUnavailable("DNS: timed out")) {
                try DNSChecks.mxRecords(domain: "partner.test", answer: .temporaryFailure("timed out"))
            }
            #expect(throws: MXCheckUnavailable("DNS: servfail")) {
                try DNSChecks.target(
                    host: "mx1.partner.test", alias: .noRecords, addresses: .temporaryFailure("servfail"))
            }
            #expect(throws: MXCheckUnavailable("DNS: refused")) {
                try DNSChecks.target(
                    host: "mx1.partner.test", alias: .temporaryFailure("refused"), addresses: .noAddresses)
            }
        }

        @Test func aTargetNeedsItsOwnAddress() throws {
            #expect(
                try DNSChecks.target(host: "mx1.partner.test", alias: .noRecords, addresses: .addresses(["192.0.2.1"]))
                    == CheckResult(.pass, .mxTarget, "mx1.partner.test has its own address 192.0.2.1"))
            #expect(
                try DNSChecks.target(
                    host: "mx1.partner.test", alias: .noRecords, addresses: .addresses(["192.0.2.1", "2001:db8::1"])
                )
                .reason.hasSuffix("addresses 192.0.2.1, 2001:db8::1"))
            #expect(
                try DNSChecks.target(host: "mx1.partner.test", alias: .noRecords, addresses: .noAddresses).status
                    == .fail)
            #expect(
                try DNSChecks.target(host: "mx1.partner.test", alias: .noSuchDomain, addresses: .noSuchDomain).status
                    == .fail)
        }

        @Test func aCNAMETargetFailsEvenThoughItResolves() throws {
            let alias = DNSResult.records([DNSRecord(name: "mail.partner.test", data: .cname("relay.partner.test"))])
            let result = try DNSChecks.target(
                host: "mail.partner.test", alias: alias, addresses: .addresses(["192.0.2.1"]))
            #expect(result.status == .fail)
            #expect(result.reason.hasPrefix("mail.partner.test is an alias (CNAME) for relay.partner.test"))
        }

        static let hosts = [
            MXHost(name: "mx1.partner.test", preference: 10), MXHost(name: "backup.partner.test", preference: 20),
        ]

        @Test func theNamedBackupMustBeLessPreferredThanThePrimary() {
            #expect(
                DNSChecks.preference(hosts: Self.hosts, backup: "backup.partner.test")
                    == CheckResult(
                        .pass, .mxPreference,
                        "the primary mx1.partner.test (10) is preferred to the backup backup.partner.test (20)"))
            let lower = DNSChecks.preference(hosts: Self.hosts, backup: "mx1.partner.test")
            #expect(lower.status == .fail)
            #expect(lower.reason.contains("lower than the primary backup.partner.test (20)"))
            let equal = [
                MXHost(name: "mx1.partner.test", preference: 10), MXHost(name: "backup.partner.test", preference: 10),
            ]
            #expect(
                DNSChecks.preference(hosts: equal, backup: "backup.partner.test").reason.contains(
                    "the same as the primary"))
            let alone = DNSChecks.preference(
                hosts: [MXHost(name: "backup.partner.test", preference: 5)], backup: "backup.partner.test")
            #expect(
                alone
                    == CheckResult(
                        .fail, .mxPreference, "backup.partner.test is the only MX host: there is no primary to back up")
            )
        }

        @Test func withoutANamedBackupTheBestIsThePrimaryAndTheRestAreBackups() {
            #expect(DNSChecks.preference(hosts: Self.hosts, backup: nil).status == .pass)
            #expect(DNSChecks.backups(among: Self.hosts) == [MXHost(name: "backup.partner.test", preference: 20)])
            let single = DNSChecks.preference(hosts: [MXHost(name: "mx1.partner.test", preference: 10)], backup: nil)
            #expect(
                single == CheckResult(.warn, .mxPreference, "mx1.partner.test is the only MX host: there is no backup"))
            let equal = [
                MXHost(name: "a.partner.test", preference: 10), MXHost(name: "b.partner.test", preference: 10),
            ]
            #expect(DNSChecks.preference(hosts: equal, backup: nil).status == .warn)
            #expect(DNSChecks.backups(among: equal).isEmpty)
        }
    }
}
