import Testing

@testable import QuailCore

@Suite struct RemoteRouteTests {
    static func routes(_ lines: String...) throws -> SMTPRoutes {
        var routes = SMTPRoutes()
        for (number, line) in lines.enumerated() { try routes.add(ControlLine(number: number + 1, text: line)) }
        return routes
    }

    static let rcpthosts = DomainList(["partner.test", ".partner.test", "example.test"])
    static let locals = DomainList(["example.test"])

    @Test(arguments: [
        // (domain, expected) with smtproutes below
        ("routed.test", RemoteRoute.relay(host: "relay.test", port: 2525)),
        ("sub.wild.test", .relay(host: "[127.0.0.9]", port: 25)),
        ("wild.test", .relay(host: "smarthost.test", port: 25)),  // `.wild.test` is subdomains only
        ("mxonly.test", .mx),  // `domain:` beats the catch-all
        ("other.test", .relay(host: "smarthost.test", port: 25)),
        ("partner.test", .mx),  // backed up: never the catch-all
        ("a.partner.test", .mx),
        ("Partner.TEST.", .mx),
        ("example.test", .relay(host: "smarthost.test", port: 25)),  // local, not backed up
        ("named.partner.test", .relay(host: "primary.test", port: 25)),  // an explicit line wins for backed up too
    ])
    func decisions(domain: String, expected: RemoteRoute) throws {
        let routes = try Self.routes(
            "routed.test:relay.test:2525", ".wild.test:[127.0.0.9]", "mxonly.test:", ":smarthost.test",
            "named.partner.test:primary.test")
        #expect(RemoteRoute.decide(for: domain, routes: routes, rcpthosts: Self.rcpthosts, locals: Self.locals) == expected)
    }

    @Test func withoutACatchAllEverythingElseGoesByMX() throws {
        let routes = try Self.routes("routed.test:relay.test")
        #expect(RemoteRoute.decide(for: "other.test", routes: routes, rcpthosts: Self.rcpthosts, locals: Self.locals) == .mx)
    }

    @Test func literals() {
        #expect(RemoteRoute.literalAddress("[127.0.0.2]") == "127.0.0.2")
        #expect(RemoteRoute.literalAddress("[IPv6:0::1]") == "::1")
        #expect(RemoteRoute.literalAddress("[::1]") == "::1")
        #expect(RemoteRoute.literalAddress("relay.test") == nil)
        #expect(RemoteRoute.literalAddress("[relay.test]") == nil)
    }
}
