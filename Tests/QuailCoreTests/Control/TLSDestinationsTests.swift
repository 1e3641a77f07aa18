import Testing

@testable import QuailCore

/// `control/tlsdestinations`: a domain line, a `.domain` line for its subdomains, the `:LEVEL` default, and
/// `may` without any; a line naming the domain is marked, for MTA-STS to yield to it.
@Suite struct TLSDestinationsTests {
    func parse(_ lines: [String]) throws -> TLSDestinations {
        var result = TLSDestinations()
        for (number, text) in lines.enumerated() { try result.add(ControlLine(number: number + 1, text: text)) }
        return result
    }

    @Test func levelsByDomainSubdomainAndDefault() throws {
        let table = try parse(["partner.test:verify", ".partner.test:encrypt", ":none", "Old.Test:MAY"])
        #expect(table.level(for: "partner.test") == (.verify, true))
        #expect(table.level(for: "PARTNER.test.") == (.verify, true))
        #expect(table.level(for: "mx.partner.test") == (.encrypt, true))
        #expect(table.level(for: "a.b.partner.test") == (.encrypt, true))
        #expect(table.level(for: "old.test") == (.may, true))
        #expect(table.level(for: "other.test") == (.none, false))
        #expect(try parse([]).level(for: "other.test") == (.may, false))
    }

    @Test(arguments: ["partner.test", "partner.test:strict", "partner.test:", ":"])
    func aMalformedLineIsAnErrorNamingTheFile(line: String) {
        #expect(throws: ControlError.self) { try parse(["# ok", line]) }
    }

    @Test func theLevelsAreOrdered() {
        #expect(TLSLevel.none < .may && TLSLevel.may < .encrypt && TLSLevel.encrypt < .verify)
    }
}
