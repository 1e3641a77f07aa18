import Testing

@testable import QuailCore

extension MXCheckLibrary {
    @Suite struct MTASTSChecksTests {
        static func policy(_ mode: String, _ mx: String...) -> MTASTSPolicy {
            MTASTSPolicy(
                "version: STSv1\nmode: \(mode)\n" + mx.map { "mx: \($0)\n" }.joined() + "max_age: 604800\n")!
        }

        @Test func thePolicyShowsItsModeAndMaxAge() {
            let found = MTASTSLookup.found(id: "1", Self.policy("enforce", "mx1.partner.test", "*.partner.test"))
            #expect(
                MTASTSChecks.judge(domain: "partner.test", lookup: found)
                    == CheckResult(
                        .pass, .mtaSTS,
                        "partner.test publishes MTA-STS policy id 1: mode enforce, max_age 604800 (7 days), "
                            + "mx: mx1.partner.test *.partner.test"))
            #expect(found.policyInForce?.mode == .enforce)
            let withdrawn = MTASTSLookup.found(id: "2", MTASTSPolicy("version: STSv1\nmode: none\nmax_age: 60")!)
            #expect(withdrawn.policyInForce == nil)
            #expect(MTASTSChecks.judge(domain: "partner.test", lookup: withdrawn).reason.contains("none (withdrawn)"))
        }

        @Test(arguments: [
            (MTASTSLookup.none, CheckStatus.pass), (.badRecord("2 TXT records start with v=STSv1"), .warn),
            (.unfetchable(id: "1", reason: "mta-sts.partner.test has no address"), .fail),
            (.invalidPolicy(id: "1"), .fail),
        ])
        func aPolicyThatCannotBeHadIsNamed(lookup: MTASTSLookup, status: CheckStatus) {
            let result = MTASTSChecks.judge(domain: "partner.test", lookup: lookup)
            #expect(result.status == status && result.check == .mtaSTS)
            #expect(result.reason.contains("_mta-sts.partner.test"))
            #expect(lookup.policyInForce == nil)
        }

        @Test func aHostThePatternsMissFails() {
            let enforce = Self.policy("enforce", "mx1.partner.test", "*.mail.partner.test")
            #expect(
                MTASTSChecks.mx(host: "a.mail.partner.test", policy: enforce, isBackup: true)
                    == CheckResult(
                        .pass, .mtaSTSMX, "a.mail.partner.test matches the MTA-STS policy's mx: *.mail.partner.test"))
            #expect(
                MTASTSChecks.mx(host: "backup.partner.test", policy: enforce, isBackup: true)
                    == CheckResult(
                        .fail, .mtaSTSMX,
                        "backup.partner.test matches none of the MTA-STS policy's mx: patterns "
                            + "(mx1.partner.test *.mail.partner.test): senders that enforce the policy never deliver "
                            + "to it, so it is no backup for them"))
            // RFC 8461 §4.1: a wildcard stands for one label only.
            #expect(MTASTSChecks.mx(host: "a.b.mail.partner.test", policy: enforce, isBackup: false).status == .fail)
            let testing = MTASTSChecks.mx(
                host: "backup.partner.test", policy: Self.policy("testing", "mx1.partner.test"), isBackup: false)
            #expect(
                testing.status == .fail
                    && testing.reason.hasSuffix(
                        "once the mode is enforce, senders that honour it will never deliver to it")
            )
        }
    }
}
