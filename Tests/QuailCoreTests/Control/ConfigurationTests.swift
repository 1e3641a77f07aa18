import Foundation
import Testing

@testable import QuailCore

@Suite struct ConfigurationTests {
    func home(_ files: [String: String]) throws -> QuailHome {
        let path = try makeScratchDirectory()
        mkdir(path + "/control", 0o700)
        for (name, text) in files { writeFile(path + "/control/" + name, text) }
        return QuailHome(path: path)
    }

    @Test func defaultsFollowTheDesign() throws {
        let config = try Configuration(home: home(["me": "mx.example.org\n"]))
        #expect(config.me == "mx.example.org")
        #expect(config.locals.contains("mx.example.org"))
        #expect(config.rcpthosts.isEmpty)
        #expect(config.databytes == 20_971_520)
        #expect(config.timeoutSMTPD == 300 && config.timeoutConnect == 60 && config.timeoutRemote == 300)
        #expect(config.concurrencyIncoming == 100 && config.concurrencyRemote == 20 && config.concurrencyLocal == 10)
        #expect(config.queueLifetime == 604_800)
        #expect(config.retrySchedule == .quadratic)
        #expect(config.probeInterval == 30)
        #expect(config.bounceFrom == "MAILER-DAEMON" && config.bounceHost == "mx.example.org" && config.doubleBounceTo == "postmaster")
        #expect(config.smtpGreeting == "mx.example.org")
        #expect(config.maildirRoot.hasSuffix("/mail"))
    }

    @Test func hostAndDomainRules() throws {
        let config = try Configuration(home: home(["rcpthosts": "Partner.TEST\n.sub.partner.test\n"]))
        #expect(config.rcpthosts.contains("partner.test"))
        #expect(config.rcpthosts.contains("PARTNER.test."))
        #expect(config.rcpthosts.contains("a.sub.partner.test"))
        #expect(!config.rcpthosts.contains("sub.partner.test"))
        #expect(!config.rcpthosts.contains("other.partner.test"))
        #expect(!config.rcpthosts.contains("evilpartner.test"))
    }

    @Test func validRecipientsWithCatchAllAndPostmaster() throws {
        let config = try Configuration(home: home(["validrcptto": "Alice@example.test\n@catchall.test\n"]))
        #expect(config.isValidRecipient(Address("alice@EXAMPLE.test")!))
        #expect(!config.isValidRecipient(Address("bob@example.test")!))
        #expect(config.isValidRecipient(Address("postmaster@example.test")!))
        #expect(config.isValidRecipient(Address("anyone@catchall.test")!))
        #expect(config.isValidRecipient(Address("anyone@unvalidated.test")!))
    }

    @Test func malformedValidRcptToNamesTheLine() throws {
        let error = #expect(throws: ControlError.self) { try Configuration(home: home(["validrcptto": "ok@a.test\nnot-an-address\n"])) }
        #expect(error == .malformed(file: "validrcptto", line: 2, reason: "expected user@domain or @domain, found \"not-an-address\""))
    }

    @Test func aliasesParse() throws {
        let config = try Configuration(home: home(["aliases": "Info@example.test: a@example.test, b@other.test\n"]))
        #expect(config.aliases["info@example.test"] == ["a@example.test", "b@other.test"])
        #expect(throws: ControlError.self) { try Configuration(home: home(["aliases": "nocolon a@b\n"])) }
    }

    @Test func smtpRoutes() throws {
        let config = try Configuration(home: home(["smtproutes": "example.test:relay.test:2525\n.sub.test:[127.0.0.2]\nplain.test:\n:smarthost.test\n"]))
        #expect(config.smtpRoutes.explicitRoute(for: "example.test") == .relay(host: "relay.test", port: 2525))
        #expect(config.smtpRoutes.explicitRoute(for: "a.sub.test") == .relay(host: "[127.0.0.2]", port: 25))
        #expect(config.smtpRoutes.explicitRoute(for: "plain.test") == .mxLookup)
        #expect(config.smtpRoutes.explicitRoute(for: "elsewhere.test") == nil)
        #expect(config.smtpRoutes.catchAll == .relay(host: "smarthost.test", port: 25))
        #expect(throws: ControlError.self) { try Configuration(home: home(["smtproutes": "bad.test:relay:99999\n"])) }
    }
}

@Suite struct RetryScheduleTests {
    @Test func parsesUnitsAndRepeatsTheLastDelay() throws {
        let schedule = try RetrySchedule.parse([ControlLine(number: 1, text: "10m, 30s,2h"), ControlLine(number: 2, text: "1d")])
        #expect(schedule == .delays([600, 30, 7200, 86400]))
        #expect(schedule.nextAttempt(birth: 0, now: 1000, attempts: 1, remote: true) == 1600)
        #expect(schedule.nextAttempt(birth: 0, now: 1000, attempts: 4, remote: true) == 1000 + 86400)
        #expect(schedule.nextAttempt(birth: 0, now: 1000, attempts: 9, remote: true) == 1000 + 86400)
    }

    @Test(arguments: ["10x", "m", "-5", "1.5h"])
    func refusesBadDelays(_ text: String) {
        #expect(throws: ControlError.self) { try RetrySchedule.parse([ControlLine(number: 3, text: text)]) }
    }

    @Test func quadraticScheduleSpreadsOutAsTheMessageAges() {
        let first = RetrySchedule.quadratic.nextAttempt(birth: 0, now: 0, attempts: 1, remote: false)
        #expect(first == 100)  // (0 + 10)²
        let remote = RetrySchedule.quadratic.nextAttempt(birth: 0, now: 10_000, attempts: 5, remote: true)
        #expect(remote == (100 + 20) * (100 + 20))
    }
}

@Suite struct ScopedConfigurationTests {
    @Test func aBrokenFileOutsideTheScopeIsNotRead() throws {
        let path = try makeScratchDirectory()
        mkdir(path + "/control", 0o700)
        writeFile(path + "/control/concurrencylocal", "lots\n")
        writeFile(path + "/control/aliases", "a@example.test: b@example.test\n")
        let home = QuailHome(path: path)
        #expect(throws: ControlError.self) { try Configuration(home: home) }
        let local = try Configuration(home: home, only: Configuration.localDeliveryFiles)
        #expect(local.aliases["a@example.test"] == ["b@example.test"])
        #expect(local.concurrencyLocal == 10)
    }

    /// quail-smtpd and quail-remote read their own files at every connection or delivery: what they do not
    /// use can neither slow them down nor stop them.
    @Test func eachProgramReadsWhatItUsesAndNothingElse() throws {
        let path = try makeScratchDirectory()
        mkdir(path + "/control", 0o700)
        writeFile(path + "/control/retryschedule", "soon\n")
        writeFile(path + "/control/rcpthosts", "backup.test\n")
        writeFile(path + "/control/databytes", "5000\n")
        writeFile(path + "/control/smtproutes", "backup.test:[127.0.0.2]:2525\n")
        let home = QuailHome(path: path)
        #expect(throws: ControlError.self) { try Configuration(home: home) }
        let smtpd = try Configuration(home: home, only: Configuration.smtpdFiles)
        #expect(smtpd.databytes == 5000 && smtpd.rcpthosts.contains("backup.test"))
        #expect(smtpd.smtpRoutes.explicitRoute(for: "backup.test") == nil)
        let remote = try Configuration(home: home, only: Configuration.remoteDeliveryFiles)
        #expect(remote.route(for: "backup.test") == .relay(host: "[127.0.0.2]", port: 2525))
        #expect(remote.backsUp("backup.test") && remote.databytes == 20_971_520)
    }
}

@Suite struct DeliveryResultTests {
    @Test func reportLineIsAlwaysOneLine() {
        #expect(DeliveryResult.deferred("451 first\r\nsecond\rthird\nfourth").reportLine == "Z451 first  second third fourth\n")
        #expect(DeliveryResult(reportLine: "Kdone") == .delivered("done"))
    }
}
