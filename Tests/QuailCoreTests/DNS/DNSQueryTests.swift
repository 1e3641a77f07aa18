import Testing

@testable import QuailCore

@Suite struct DNSQueryTests {
    @Test func queryWireFormat() throws {
        let query = try DNSQuery(name: "Mail.Example.", type: .mx, id: 0xBEEF)
        #expect(query.name == "mail.example")
        #expect(
            query.bytes == [0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
                + [4] + Array("mail".utf8) + [7] + Array("example".utf8) + [0, 0, 15, 0, 1])
    }

    @Test func idsAreRandom() throws {
        let ids = Set(try (0..<50).map { _ in try DNSQuery(name: "a.test", type: .a).id })
        #expect(ids.count > 40)
    }

    @Test func queryRoundTripsThroughTheParser() throws {
        let query = try DNSQuery(name: "host.test", type: .aaaa, id: 7)
        let parsed = try DNSMessage.parse(query.bytes)
        #expect(!parsed.isResponse)
        #expect(parsed.questions == [DNSQuestion(name: "host.test", type: .aaaa, recordClass: 1)])
    }

    @Test(arguments: [
        "", "a..b", ".a", String(repeating: "x", count: 64) + ".test", "bad name.test", "tab\u{9}.test", "é.test",
        "a\\b.test", Array(repeating: String(repeating: "y", count: 60), count: 5).joined(separator: "."),
    ])
    func namesThatCannotExist(_ name: String) {
        #expect(throws: DNSNameError.self) { try DNSQuery(name: name, type: .a) }
    }

    @Test func longestNameFits() throws {
        // 3 × 64 + 62 + 1 = 255 octets.
        let name =
            Array(repeating: String(repeating: "z", count: 63), count: 3).joined(separator: ".") + "."
            + String(repeating: "w", count: 61)
        #expect(try DNSQuery(name: name, type: .a).bytes.count == 12 + 255 + 4)
    }

    @Test func serverLines() throws {
        #expect(try DNSServer(parsing: "192.0.2.1") == DNSServer(octets: [192, 0, 2, 1], port: 53))
        #expect(try DNSServer(parsing: "127.0.0.1:5353") == DNSServer(octets: [127, 0, 0, 1], port: 5353))
        #expect(
            try DNSServer(parsing: "[::1]:5300") == DNSServer(octets: Array(repeating: 0, count: 15) + [1], port: 5300))
        #expect(try DNSServer(parsing: "::1").port == 53)
        #expect(try DNSServer(parsing: "[2001:db8::53]").description == "[2001:db8::53]:53")
        for bad in ["", "host.test", "1.2.3.4:0", "1.2.3.4:99999", "1.2.3:53", "[::1", "[::1]x", "1.2.3.4:"] {
            #expect(throws: DNSConfigError.badServer(bad)) { try DNSServer(parsing: bad) }
        }
    }

    @Test func resolvConf() throws {
        let text =
            "# comment\nsearch test\nnameserver 10.0.0.1\nnameserver\tfe80::1%eth0\n  \nnameserver ::1\noptions ndots:2\n"
        #expect(
            DNSServer.fromResolvConf(text) == [
                DNSServer(octets: [10, 0, 0, 1]), DNSServer(octets: Array(repeating: 0, count: 15) + [1]),
            ])
        #expect(DNSServer.fromResolvConf("search test\n") == [DNSServer(octets: [127, 0, 0, 1])])
        #expect(try DNSServer.fromResolvConf(path: "/nonexistent/resolv.conf") == [DNSServer(octets: [127, 0, 0, 1])])
    }

    @Test func controlResolversWinOverResolvConf() throws {
        let resolver = try DNSResolver(resolvers: ["127.0.0.1:5353", "[::1]:53"], resolvConf: "/nonexistent")
        #expect(resolver.servers.map(\.description) == ["127.0.0.1:5353", "[::1]:53"])
        #expect(throws: DNSConfigError.badServer("nope")) { try DNSResolver(resolvers: ["nope"]) }
    }
}
