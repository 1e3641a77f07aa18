import Glibc
import Testing

@testable import QuailCore

/// The `qp` and `uid` of quail-send's `info msg` line come from quail-queue's own Received line.
@Suite struct SendLogTests {
    @Test func readsQueueOriginFromReceivedLine() throws {
        let line = QueueWriter.receivedLine(now: 0) + "Received: from x\n"
        let origin = try #require(SendLog.queueOrigin(ofMessageStart: Array(line.utf8)))
        #expect(origin.qp == UInt64(getpid()))
        #expect(origin.uid == getuid())
    }

    @Test(arguments: [
        "Received: from client.test (client [127.0.0.1])\n",
        "Received: (quail x invoked by uid 0); date\n",
        "Received: (quail 12 invoked by uid 0)\n",
        "Subject: (quail 12 invoked by uid 0); date\n",
        "",
    ])
    func ignoresOtherStarts(_ start: String) {
        #expect(SendLog.queueOrigin(ofMessageStart: Array(start.utf8)) == nil)
    }
}
