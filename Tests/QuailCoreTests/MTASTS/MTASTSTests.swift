import Foundation
import Testing

@testable import QuailCore

/// RFC 8461's pieces: the `_mta-sts` record, the policy file and its `mx:` patterns, the HTTP response a policy
/// comes in, and the cache on disk.
@Suite struct MTASTSTests {
    @Test func theRecordNeedsVersionFirstAndAnAlphanumericId() {
        #expect(MTASTSRecord("v=STSv1; id=20160831085700Z;")?.id == "20160831085700Z")
        #expect(MTASTSRecord("v=STSv1;id=abc")?.id == "abc")
        #expect(MTASTSRecord("id=abc; v=STSv1") == nil)
        #expect(MTASTSRecord("v=STSv1; id=a-b") == nil)
        #expect(MTASTSRecord("v=STSv1; id=" + String(repeating: "a", count: 33)) == nil)
        #expect(MTASTSRecord("v=STSv1;") == nil)
        // Strings of one record are joined; two STSv1 records mean none (§3.1).
        #expect(MTASTSRecord.find(in: [[Array("v=STSv1; ".utf8), Array("id=x1".utf8)]])?.id == "x1")
        #expect(MTASTSRecord.find(in: [[Array("v=STSv1; id=a".utf8)], [Array("v=STSv1; id=b".utf8)]]) == nil)
        #expect(MTASTSRecord.find(in: [[Array("v=spf1 -all".utf8)], [Array("v=STSv1; id=b".utf8)]])?.id == "b")
    }

    @Test func aPolicyAndItsPatterns() throws {
        let policy = try #require(MTASTSPolicy("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.backup.example.net\r\nmax_age: 604800\r\n"))
        #expect(policy.mode == .enforce && policy.maxAge == 604_800)
        #expect(policy.matches("mail.example.com") && policy.matches("MAIL.example.com."))
        #expect(policy.matches("mx1.backup.example.net"))
        #expect(!policy.matches("a.b.backup.example.net") && !policy.matches("backup.example.net"))
        #expect(!policy.matches("other.example.com"))
        #expect(MTASTSPolicy("version: STSv1\nmode: testing\nmx: a.test\nmax_age: 99999999999\n")?.maxAge == MTASTSPolicy.maximumAge)
        #expect(MTASTSPolicy("version: STSv1\nmode: none\nmax_age: 86400\n")?.mode == MTASTSPolicy.Mode.none)
    }

    @Test(arguments: [
        "mode: enforce\nmx: a.test\nmax_age: 1\n",  // no version
        "version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n",
        "version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmax_age: 1\n",  // enforce with no mx
        "version: STSv1\nmode: enforce\nmx: a.test\n",  // no max_age
        "<html>not a policy</html>",
    ])
    func whatIsNoPolicy(text: String) {
        #expect(MTASTSPolicy(text) == nil)
    }

    @Test func onlyA200WithTextPlainIsAPolicy() throws {
        let body = "version: STSv1\r\nmode: testing\r\nmx: a.test\r\nmax_age: 86400\r\n"
        let plain = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
        #expect(try MTASTSFetch.policyText(of: Array(plain.utf8), host: "mta-sts.x.test") == body)
        // In bytes: "\r\n" is one Character to a Swift String.
        let bytes = Array(body.utf8)
        let chunked = Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n".utf8)
            + bytes.prefix(16) + Array("\r\n\(String(bytes.count - 16, radix: 16))\r\n".utf8) + bytes.dropFirst(16)
            + Array("\r\n0\r\n\r\n".utf8)
        #expect(try MTASTSFetch.policyText(of: chunked, host: "mta-sts.x.test") == body)
        for refused in ["HTTP/1.1 301 Moved\r\nLocation: https://elsewhere/\r\n\r\n",
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + body,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"] {
            #expect(throws: MTASTSFailure.self) { try MTASTSFetch.policyText(of: Array(refused.utf8), host: "mta-sts.x.test") }
        }
    }

    @Test func theCacheKeepsAPolicyUntilItsMaxAgeWithoutTheNetwork() throws {
        let directory = try makeScratchDirectory() + "/mta-sts"
        // No resolver answers on this port: every lookup fails, as when the record vanished or DNS is down.
        let resolver = DNSResolver(servers: [DNSServer(octets: [127, 0, 0, 1], port: 9)], timeout: .milliseconds(100), triesPerServer: 1)
        let policies = MTASTSPolicies(directory: directory, resolver: resolver, tls: try TLSContext.client(),
                                      connectTimeout: .milliseconds(100))
        let text = "version: STSv1\nmode: enforce\nmx: mx.x.test\nmax_age: 3600\n"
        policies.write(.init(id: "one", fetched: 1000, text: text, policy: try #require(MTASTSPolicy(text))), for: "x.test")
        #expect(policies.read("x.test")?.id == "one")
        #expect(policies.policy(for: "x.test", now: 1000 + 3599)?.mx == ["mx.x.test"])
        #expect(policies.policy(for: "x.test", now: 1000 + 3600) == nil, "expired at its max_age")
        // A name that is not a plain domain is no file name.
        #expect(policies.policy(for: "../x.test") == nil)
    }
}
