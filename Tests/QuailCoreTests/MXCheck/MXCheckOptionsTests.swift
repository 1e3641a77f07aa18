import Testing

@testable import QuailCore

@Suite struct MXCheckOptionsTests {
    @Test func domainBackupAndJSONInAnyOrder() throws {
        let options = try MXCheckOptions(arguments: ["Partner.TEST.", "--json", "Backup.Partner.test:2525"])
        #expect(options.domain == "partner.test")
        #expect(options.json)
        #expect(options.backup == BackupTarget(host: "backup.partner.test", port: 2525))
        #expect(try MXCheckOptions(arguments: ["partner.test"]).backup == nil)
    }

    @Test(arguments: [
        ("backup.partner.test", BackupTarget(host: "backup.partner.test", port: 25)),
        ("192.0.2.3", BackupTarget(host: "192.0.2.3", isAddress: true, port: 25)),
        ("192.0.2.3:2525", BackupTarget(host: "192.0.2.3", isAddress: true, port: 2525)),
        ("[2001:db8::3]:26", BackupTarget(host: "2001:db8::3", isAddress: true, port: 26)),
        ("2001:db8::3", BackupTarget(host: "2001:db8::3", isAddress: true, port: 25)),
    ])
    func backupTargets(text: String, expected: BackupTarget) {
        #expect(BackupTarget(parsing: text) == expected)
    }

    @Test(arguments: ["backup:0", "backup:99999", "backup:", ":25", "a..b", "[2001:db8::3]:x"])
    func badBackupTargets(text: String) {
        #expect(BackupTarget(parsing: text) == nil)
        #expect(throws: MXCheckUsageError.badBackup(text)) { try MXCheckOptions(arguments: ["partner.test", text]) }
    }

    @Test func usageErrors() {
        #expect(throws: MXCheckUsageError.missingDomain) { try MXCheckOptions(arguments: ["--json"]) }
        #expect(throws: MXCheckUsageError.tooManyArguments) {
            try MXCheckOptions(arguments: ["a.test", "b.test", "c.test"])
        }
        #expect(throws: MXCheckUsageError.unknownOption("-v")) { try MXCheckOptions(arguments: ["-v", "a.test"]) }
        #expect(throws: Never.self) { try MXCheckOptions(arguments: ["--", "a.test"]) }
    }

    @Test func descriptionsShowANonDefaultPortOnly() {
        #expect(BackupTarget(host: "b.test").description == "b.test")
        #expect(BackupTarget(host: "b.test", port: 2525).description == "b.test:2525")
        #expect(BackupTarget(host: "::1", isAddress: true, port: 2525).description == "[::1]:2525")
    }
}
