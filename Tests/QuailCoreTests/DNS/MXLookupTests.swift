import Testing

@testable import QuailCore

@Suite struct MXLookupTests {
    func hosts(_ result: DNSResult, domain: String = "partner.test") -> MXLookup {
        var generator = SystemRandomNumberGenerator()
        return DNSResolver.mxHosts(for: domain, from: result, using: &generator)
    }

    func mx(_ preference: UInt16, _ exchange: String) -> DNSRecord {
        DNSRecord(name: "partner.test", data: .mx(preference: preference, exchange: exchange))
    }

    @Test func nullMX() {
        #expect(hosts(.records([mx(0, "")])) == .nullMX)
        // RFC 7505 asks for preference 0, but a lone root exchange at any preference can receive nothing.
        #expect(hosts(.records([mx(10, "")])) == .nullMX)
        #expect(hosts(.records([mx(0, ""), mx(0, "")])) == .nullMX)
        // A root exchange beside a real one is a misconfiguration: the real one still gets the mail.
        #expect(
            hosts(.records([mx(0, ""), mx(10, "mx.partner.test")]))
                == .hosts([MXHost(name: "mx.partner.test", preference: 10)]))
    }

    @Test func implicitMXAndFailures() {
        #expect(hosts(.noRecords, domain: "Only-A.TEST.") == .hosts([MXHost(name: "only-a.test", preference: 0)]))
        #expect(hosts(.noSuchDomain) == .noSuchDomain)
        #expect(hosts(.temporaryFailure("SERVFAIL")) == .temporaryFailure("SERVFAIL"))
    }

    @Test func lowerPreferenceAlwaysFirstAndEqualOnesShuffled() {
        let records = [mx(20, "c.test"), mx(10, "a.test"), mx(30, "d.test"), mx(10, "b.test")]
        var orders: Set<[String]> = []
        for _ in 0..<200 {
            guard case .hosts(let hosts) = hosts(.records(records)) else {
                Issue.record("no hosts")
                return
            }
            #expect(hosts.map(\.preference) == [10, 10, 20, 30])
            orders.insert(hosts.map(\.name))
        }
        #expect(orders == [["a.test", "b.test", "c.test", "d.test"], ["b.test", "a.test", "c.test", "d.test"]])
    }

    @Test func addressesCombineAThenAAAA() {
        let v4 = DNSResult.records([DNSRecord(name: "h.test", data: .a("192.0.2.1"))])
        let v6 = DNSResult.records([DNSRecord(name: "h.test", data: .aaaa("2001:db8::1"))])
        #expect(DNSResolver.addresses(v4, v6) == .addresses(["192.0.2.1", "2001:db8::1"]))
        #expect(DNSResolver.addresses(v4, .temporaryFailure("x")) == .addresses(["192.0.2.1"]))
        #expect(DNSResolver.addresses(.noRecords, .temporaryFailure("x")) == .temporaryFailure("x"))
        #expect(DNSResolver.addresses(.noRecords, .noRecords) == .noAddresses)
        #expect(DNSResolver.addresses(.noRecords, .noSuchDomain) == .noSuchDomain)
    }

    @Test func addressLiteralsNeedNoLookup() {
        let resolver = DNSResolver(servers: [DNSServer(octets: [127, 0, 0, 1], port: 9)])
        #expect(resolver.addresses(of: "192.0.2.9") == .addresses(["192.0.2.9"]))
        #expect(resolver.addresses(of: "2001:DB8::9") == .addresses(["2001:db8::9"]))
    }
}
