import Testing

@testable import QuailCore

extension MXCheckLibrary {
    @Suite struct BackupChecksTests {
        static let probes = BackupProbe.all(domain: "partner.test", unknownUser: "mxcheck-0123")
        static let accepted = ServerReply(code: 250, lines: ["2.1.5 ok"])
        static let refused = ServerReply(code: 553, lines: ["5.7.1 not here"])
        static let unknown = ServerReply(code: 550, lines: ["5.1.1 no such user"])
        static let later = ServerReply(code: 451, lines: ["4.7.1 greylisted"])

        func judge(_ replies: [ServerReply], failure: String? = nil) -> [CheckResult] {
            BackupChecks.judge(
                host: "backup.partner.test", place: "[192.0.2.2]:25", probes: Self.probes,
                transcript: BackupConversation.Transcript(replies: replies, failure: failure))
        }

        @Test func theProbesInOrder() {
            #expect(
                Self.probes.map(\.recipient) == [
                    "postmaster@partner.test", "mxcheck-0123@partner.test", "mxcheck@example.com",
                    "mxcheck%example.com@partner.test", "@partner.test:mxcheck@example.com",
                    "\"mxcheck@example.com\"@partner.test", "example.com!mxcheck@partner.test",
                ])
            #expect(
                Self.probes.map(\.check) == [
                    .backupAccepts, .unknownUser, .openRelay, .relayPercent, .relayRoute, .relayQuoted, .relayBang,
                ])
            let user = BackupProbe.randomUser()
            #expect(user.hasPrefix("mxcheck-") && user.count == 20 && user != BackupProbe.randomUser())
        }

        @Test func aGoodBackupPassesEverything() {
            let results = judge([Self.accepted, Self.unknown] + Array(repeating: Self.refused, count: 5))
            #expect(results.map(\.status) == Array(repeating: .pass, count: 7))
            #expect(
                results[0].reason
                    == "backup.partner.test [192.0.2.2]:25 accepts <postmaster@partner.test>: 250 2.1.5 ok")
            #expect(results[2].reason == "backup.partner.test refuses <mxcheck@example.com>: 553 5.7.1 not here")
        }

        @Test func anOpenRelayFailsEveryRelayCheckOnItsOwnLine() {
            let results = judge(Array(repeating: Self.accepted, count: 7))
            #expect(results.map(\.status) == [.pass, .warn, .fail, .fail, .fail, .fail, .fail])
            #expect(results[2].reason.contains("an open relay"))
            #expect(results[4].reason.contains("source route"))
        }

        @Test func acceptingAnUnknownUserIsAWarningAboutBackscatter() {
            let results = judge([Self.accepted, Self.accepted] + Array(repeating: Self.refused, count: 5))
            #expect(results[1].status == .warn)
            #expect(results[1].reason.contains("backscatter"))
            #expect(!results.contains { $0.status == .fail })
        }

        @Test func refusingThePostmasterFailsAndLeavesValidationUndecided() {
            let results = judge([Self.refused, Self.unknown] + Array(repeating: Self.refused, count: 5))
            #expect(results[0].status == .fail)
            #expect(results[1].status == .warn)
            #expect(results[1].reason.contains("cannot tell"))
        }

        @Test func temporaryRefusalsDecideNothing() {
            let results = judge(Array(repeating: Self.later, count: 7))
            #expect(results.map(\.status) == Array(repeating: .warn, count: 7))
        }

        @Test func aSessionThatNeverReachedRCPTIsOneFailure() {
            #expect(
                judge([], failure: "greeting: 554 go away")
                    == [
                        CheckResult(
                            .fail, .backupAccepts,
                            "backup.partner.test [192.0.2.2]:25: greeting: 554 go away; nothing else could be checked")
                    ])
        }

        @Test func probesNeverAskedAreWarnings() {
            let results = judge(
                [Self.accepted, Self.unknown, Self.refused], failure: "connection lost: connection closed by the server"
            )
            #expect(results.map(\.status) == [.pass, .pass, .pass, .warn, .warn, .warn, .warn])
            #expect(results[3].reason.contains("was not asked: connection lost"))
        }
    }
}
