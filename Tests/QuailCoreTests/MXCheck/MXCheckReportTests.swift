import Testing

@testable import QuailCore

@Suite struct MXCheckReportTests {
    static let pass = CheckResult(.pass, .mxRecords, "fine")
    static let warn = CheckResult(.warn, .unknownUser, "accepts \"anyone\"\\")
    static let fail = CheckResult(.fail, .openRelay, "relays")

    @Test func exitCodesAndOverall() {
        #expect(MXCheckReport(domain: "d.test", results: [Self.pass]).exitCode == 0)
        #expect(MXCheckReport(domain: "d.test", results: [Self.pass, Self.warn]).exitCode == 0)
        #expect(MXCheckReport(domain: "d.test", results: [Self.pass, Self.warn]).overall == "WARN")
        #expect(MXCheckReport(domain: "d.test", results: [Self.fail, Self.warn]).exitCode == 1)
        #expect(MXCheckReport(domain: "d.test", results: [Self.fail, Self.warn]).overall == "FAIL")
        let unavailable = MXCheckReport(
            domain: "d.test", results: [Self.fail], unavailable: MXCheckUnavailable("DNS: down"))
        #expect(unavailable.exitCode == 111)
        #expect(unavailable.overall == "ERROR")
        #expect(CheckStatus.pass < .warn && CheckStatus.warn < .fail)
    }

    @Test func textIsOneLinePerCheck() {
        #expect(
            MXCheckReport(domain: "d.test", results: [Self.pass, Self.fail]).text
                == "PASS mx-records fine\nFAIL open-relay relays\n")
        #expect(CheckResult(.pass, .greeting, "two\r\nlines").description == "PASS greeting two lines")
    }

    @Test func jsonEscapesAndCarriesTheError() {
        let report = MXCheckReport(
            domain: "d.test", results: [Self.warn], unavailable: MXCheckUnavailable("DNS: \"x\""))
        #expect(
            report.json == """
                {
                  "domain": "d.test",
                  "checks": [
                    {"status": "WARN", "check": "unknown-user", "reason": "accepts \\"anyone\\"\\\\"}
                  ],
                  "overall": "ERROR",
                  "exit": 111,
                  "error": "DNS: \\"x\\""
                }

                """)
        #expect(MXCheckReport(domain: "d.test").json.contains("\"checks\": []"))
    }

    @Test func jsonCarriesThePublishedPolicy() throws {
        let policy = try #require(
            MTASTSPolicy("version: STSv1\nmode: testing\nmx: a.d.test\nmx: *.d.test\nmax_age: 86400\n"))
        let report = MXCheckReport(domain: "d.test", mtaSTS: .found(id: "7", policy))
        #expect(
            report.json.contains(
                "\n  \"mta_sts\": {\"id\": \"7\", \"mode\": \"testing\", \"max_age\": 86400, \"mx\": [\"a.d.test\", \"*.d.test\"]}\n"
            ))
        #expect(!MXCheckReport(domain: "d.test", mtaSTS: MTASTSLookup.none).json.contains("mta_sts"))
    }
}
