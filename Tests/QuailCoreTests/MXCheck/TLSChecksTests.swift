import Testing

@testable import QuailCore

extension MXCheckLibrary {
    @Suite struct TLSChecksTests {
        static let place = "[192.0.2.1]:25"

        static func established(failure: String? = nil, left: Int? = 365 * 86400) -> STARTTLSOutcome {
            .established(
                TLSSummary(
                    version: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384", verificationFailure: failure,
                    certificateSecondsLeft: left))
        }

        func judge(_ outcome: STARTTLSOutcome, enforced: Bool = false) -> [CheckResult] {
            TLSChecks.judge(host: "mx1.partner.test", place: Self.place, outcome: outcome, enforced: enforced)
        }

        @Test func aTrustedCertificateForTheNamePasses() {
            #expect(
                judge(Self.established())
                    == [
                        CheckResult(
                            .pass, .starttls,
                            "mx1.partner.test [192.0.2.1]:25 offers STARTTLS: TLSv1.3 TLS_AES_256_GCM_SHA384"),
                        CheckResult(
                            .pass, .certificate,
                            "mx1.partner.test [192.0.2.1]:25: the certificate is valid for mx1.partner.test, "
                                + "expires in 365 days"),
                    ])
        }

        /// No STARTTLS costs privacy (WARN) until the domain's policy enforces TLS: then senders skip the host.
        @Test(arguments: [STARTTLSOutcome.notOffered, .refused(ServerReply(code: 454, lines: ["TLS not available"]))])
        func noTLSIsAWarningUnlessEnforced(outcome: STARTTLSOutcome) {
            let plain = judge(outcome)
            #expect(plain.map(\.status) == [.warn] && plain.map(\.check) == [.starttls])
            #expect(plain.first?.reason.contains("cleartext") == true)
            let enforced = judge(outcome, enforced: true)
            #expect(enforced.map(\.status) == [.fail] && enforced.map(\.check) == [.starttls])
            #expect(enforced.first?.reason.contains("enforce") == true)
        }

        @Test func aFailedHandshakeFails() {
            #expect(judge(.failed("TLS handshake: alert")).map(\.status) == [.fail])
        }

        /// Whatever OpenSSL refused (name, expiry, authority), the certificate fails; an expired one says since when.
        @Test(arguments: [
            ("hostname mismatch", 300 * 86400, "hostname mismatch: senders that verify"),
            ("certificate has expired", -40 * 86400, "certificate has expired (it expired 40 days ago): senders"),
            ("self-signed certificate", 300 * 86400, "self-signed certificate: senders"),
        ])
        func anUnverifiedCertificateFails(failure: String, left: Int, says: String) {
            let results = judge(Self.established(failure: failure, left: left))
            #expect(results.map(\.status) == [.pass, .fail])
            #expect(results.last?.check == .certificate)
            #expect(results.last?.reason.contains("not valid for mx1.partner.test: " + says) == true, "\(results)")
        }

        @Test func expiryWithinFourteenDaysIsAWarning() {
            let soon = judge(Self.established(left: 10 * 86400 - 100))
            #expect(soon.map(\.status) == [.pass, .warn])
            #expect(soon.last?.reason.contains("expires in 10 days") == true)
            #expect(judge(Self.established(left: 14 * 86400 - 1)).map(\.status) == [.pass, .warn])
            #expect(judge(Self.established(left: 3600)).last?.reason.contains("expires in less than a day") == true)
            #expect(judge(Self.established(left: 14 * 86400)).map(\.status) == [.pass, .pass])
            #expect(judge(Self.established(left: nil)).map(\.status) == [.pass, .fail])
        }
    }
}
