import Testing

@testable import QuailCore

@Suite struct BackupRuleTests {
    typealias Candidate = BackupRule.Candidate

    static func candidate(_ name: String, _ preference: UInt16, _ addresses: String...) -> Candidate {
        Candidate(host: MXHost(name: name, preference: preference), addresses: addresses)
    }

    static let primary = candidate("mx1.test", 10, "192.0.2.1")
    static let peer = candidate("mx2.test", 20, "192.0.2.2")
    static let us = candidate("backup.test", 20, "192.0.2.9", "2001:db8::9")
    static let last = candidate("mx3.test", 30, "192.0.2.3")

    @Test func weAreNotListed() {
        let all = [Self.primary, Self.peer, Self.last]
        #expect(BackupRule.apply(all, ours: ["192.0.2.9"]) == .hosts(all))
    }

    @Test func weDropOurselvesEqualAndWorsePreferences() {
        // mx2 shares our preference 20: it is dropped too, as are all at 30.
        #expect(BackupRule.apply([Self.primary, Self.peer, Self.us, Self.last], ours: ["192.0.2.9"]) == .hosts([Self.primary]))
    }

    @Test func anyAddressOfAHostCountsInCanonicalForm() {
        #expect(BackupRule.apply([Self.primary, Self.us], ours: ["2001:db8:0::9"]) == .hosts([Self.primary]))
    }

    @Test func weAreTheBestMX() {
        #expect(BackupRule.apply([Self.us, Self.last], ours: ["192.0.2.9"]) == .loopsBack)
        let alone = Self.candidate("example.test", 0, "192.0.2.9")
        #expect(BackupRule.apply([alone], ours: ["192.0.2.9"]) == .loopsBack)
    }

    @Test func nothingResolvedIsNotALoop() {
        #expect(BackupRule.apply([], ours: ["192.0.2.9"]) == .hosts([]))
    }

    @Test func thisHostsAddresses() {
        let ours = LocalAddresses.combine(
            interfaces: ["127.0.0.1", "::1", "192.0.2.9"], more: ["127.0.0.5", "0:0::7"], not: ["192.0.2.9"])
        #expect(ours == ["127.0.0.1", "::1", "127.0.0.5", "::7"])
        // The real interfaces include loopback, and only 127.0.0.1 of 127/8.
        let interfaces = LocalAddresses.interfaceAddresses()
        #expect(interfaces.contains("127.0.0.1"))
        #expect(!interfaces.contains("127.0.0.2"))
    }
}
