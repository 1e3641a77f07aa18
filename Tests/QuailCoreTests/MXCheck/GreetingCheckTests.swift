import Testing

@testable import QuailCore

extension MXCheckLibrary {
    @Suite struct GreetingCheckTests {
        static func greeting(_ code: Int, _ lines: String...) -> Result<ServerReply, RemoteConnectionError> {
            .success(ServerReply(code: code, lines: lines))
        }

        func judge(_ greeting: Result<ServerReply, RemoteConnectionError>, host: String = "mx1.partner.test")
            -> CheckResult
        {
            GreetingCheck.judge(host: host, address: "192.0.2.1", port: 25, greeting: greeting)
        }

        @Test func theFirstWordIsTheNameComparedWithoutCaseOrTrailingDot() {
            #expect(
                GreetingCheck.name(in: ServerReply(code: 220, lines: ["MX1.Partner.TEST. ESMTP quail", "more"]))
                    == "mx1.partner.test")
            #expect(GreetingCheck.name(in: ServerReply(code: 220, lines: [""])) == nil)
            #expect(
                judge(Self.greeting(220, "MX1.partner.test. ESMTP"))
                    == CheckResult(.pass, .greeting, "mx1.partner.test [192.0.2.1]:25 greets as mx1.partner.test"))
        }

        @Test func anotherNameIsAWarning() {
            #expect(
                judge(Self.greeting(220, "relay.partner.test ESMTP"))
                    == CheckResult(
                        .warn, .greeting,
                        "mx1.partner.test [192.0.2.1]:25 greets as relay.partner.test, "
                            + "not as its MX name mx1.partner.test"))
            #expect(judge(Self.greeting(220, "")).status == .warn)
        }

        @Test(arguments: [
            Result<ServerReply, RemoteConnectionError>.failure(.connectFailed(Errno(rawValue: 111))),
            .failure(.connectTimedOut), .failure(.timedOut), .failure(.closed),
            .success(ServerReply(code: 421, lines: ["mx1.partner.test busy"])),
            .success(ServerReply(code: 554, lines: ["go away"])),
        ])
        func noUsableGreetingFails(greeting: Result<ServerReply, RemoteConnectionError>) {
            let result = judge(greeting)
            #expect(result.status == .fail)
            #expect(result.reason.hasPrefix("mx1.partner.test [192.0.2.1]:25"))
        }

        @Test func ipv6AddressesAreBracketed() {
            #expect(GreetingCheck.place("2001:db8::1", 2525) == "[2001:db8::1]:2525")
        }
    }
}
