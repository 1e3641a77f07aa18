import Testing

@testable import QuailCore

@Suite struct RemoteReportTests {
    @Test func linesPerRecipientThenTheDestination() {
        let report = RemoteReport(
            results: [.delivered("250 ok"), .deferred("451 later"), .failed("550 no\nuser")],
            destination: .up(host: "mx1.test", address: "127.0.0.2"))
        #expect(report.output == "K250 ok\nZ451 later\nD550 no user\nHup mx1.test 127.0.0.2\n")
        let down = RemoteReport(all: .deferred(RemoteReply.loopsBack("partner.test")), count: 1, destination: .down(RemoteReply.loopsBackReason))
        #expect(
            down.output
                == "Zthis host is the best MX for partner.test and partner.test is not in locals (loops back to myself) (#4.4.6)\nHdown loops back to myself\n")
        #expect(RemoteReport.Destination.down("a\r\nb").line == "Hdown a??b\n")
    }
}
