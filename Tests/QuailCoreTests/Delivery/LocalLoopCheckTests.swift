import Testing

@testable import QuailCore

@Suite struct LocalLoopCheckTests {
    let me = Address(localPart: "bob", domain: "example.com")

    func message(_ header: [String], body: String = "body\n") -> [UInt8] {
        Array((header.map { $0 + "\n" }.joined() + "\n" + body).utf8)
    }

    func received(_ count: Int) -> [String] {
        (0..<count).map { "Received: from hop\($0) by mx.example; Sat, 21 Nov 2026 11:35:16 +0000" }
    }

    @Test(arguments: [
        "Delivered-To: bob@example.com", "delivered-to:BOB@Example.COM", "DELIVERED-TO:   <bob@example.com.>  ",
    ])
    func myDeliveredToLineIsALoop(line: String) {
        let text = message(["Received: x", line, "Subject: hi"])
        #expect(LocalLoopCheck.loopReason(in: text, recipient: me) == LocalReply.deliveredToLoop)
    }

    @Test(arguments: [
        "Delivered-To: alice@example.com", "Delivered-To: bob@example.org", "X-Delivered-To: bob@example.com",
        "Subject: Delivered-To: bob@example.com", " Delivered-To: bob@example.com",
    ])
    func otherLinesAreNoLoop(line: String) {
        #expect(LocalLoopCheck.loopReason(in: message(["Received: x", "Subject: s", line]), recipient: me) == nil)
    }

    @Test func aDeliveredToLineInTheBodyIsNoLoop() {
        let text = message(
            ["Subject: bounce"], body: "Delivered-To: bob@example.com\n" + received(150).joined(separator: "\n"))
        #expect(LocalLoopCheck.loopReason(in: text, recipient: me) == nil)
    }

    @Test(arguments: [(0, false), (100, false), (101, true), (250, true)])
    func moreThanAHundredReceivedLinesIsALoop(count: Int, loops: Bool) {
        let reason = LocalLoopCheck.loopReason(in: message(received(count) + ["Subject: s"]), recipient: me)
        #expect(reason == (loops ? LocalReply.tooManyHops : nil))
    }

    @Test func hopsCountsFieldsNotContinuations() {
        let text = message(["Received: from a", "\tby b", "received: from c", "Delivered-To: x@y", " Received: folded"])
        let hops = LocalLoopCheck.hops(in: text)
        #expect(hops.receivedCount == 2)
        #expect(hops.deliveredTo == ["x@y"])
    }

    @Test func aMessageWithoutBodyOrFinalNewlineIsRead() {
        #expect(LocalLoopCheck.hops(in: Array("Received: a\nDelivered-To: q@r".utf8)).deliveredTo == ["q@r"])
        #expect(LocalLoopCheck.hops(in: []) == LocalLoopCheck.Hops())
    }
}
