import Foundation
import Glibc
import QuailCore
import Testing

/// The crash suite (`scripts/torture`), small enough for CI: the same scenario as the full run — SMTP clients,
/// a primary that flaps, SIGKILLs at random instants to quail-send, quail-remote, quail-local, quail-queue and
/// quail-smtpd (sessions and listener), a supervisor restarting the daemons — with 200 messages and a few kills,
/// then the invariant check: every message acknowledged with 250 delivered, byte for byte, none lost.
@Suite(.serialized) struct TortureTests {
    @Test func acknowledgedMailSurvivesSIGKILLsAndAFlappingPrimary() throws {
        let started = Date()
        let outcome = try Programs.run("/usr/bin/env", [
            "python3", Repository.path("scripts/torture"), "--bin", Programs.directory,
            "-n", "200", "--clients", "4", "--min-kills", "8", "--kill-interval", "0.05,0.3",
            "--up", "0.5,2", "--down", "0.3,1.5", "--after", "3", "--load-timeout", "120", "--drain-timeout", "120",
        ])
        let output = outcome.stdout + outcome.stderr
        print("torture (\(String(format: "%.1f", Date().timeIntervalSince(started))) s):\n\(output)")
        #expect(outcome.status == 0, "\(output)")
        #expect(output.contains("\nlost: 0\n"), "\(output)")
        #expect(output.contains("RESULT: PASS"), "\(output)")
        let kills = output.split(separator: "\n").first { $0.hasPrefix("kills: ") }
            .flatMap { Int($0.dropFirst("kills: ".count).prefix { $0.isNumber }) } ?? 0
        #expect(kills >= 8, "\(output)")
    }
}
