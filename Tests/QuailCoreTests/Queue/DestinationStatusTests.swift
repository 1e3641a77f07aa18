import Glibc
import Testing

@testable import QuailCore

/// `queue/status/`: what quail-send publishes per destination, and how a reader tells a fresh status from one that
/// a stopped quail-send left behind.
@Suite struct DestinationStatusTests {
    @Test func theFileFormatRoundTripsAndKeepsTheAnswerToOneLine() {
        let down = DestinationStatus.down(since: 1_700_000_000, lastAnswer: "connect: Connection refused (#4.4.1)")
        #expect(String(decoding: down.encoded, as: UTF8.self) == "down 1700000000\nconnect: Connection refused (#4.4.1)\n")
        #expect(DestinationStatus(decoding: down.encoded) == down)
        let up = DestinationStatus.up(since: 5, lastAnswer: "250 ok\r\nup 1\nnext")
        #expect(DestinationStatus(decoding: up.encoded) == .up(since: 5, lastAnswer: "250 ok  up 1 next"))
        for garbage in ["", "up\n", "sideways 5\nx\n", "down five\nx\n", "up 5 6\n"] {
            #expect(DestinationStatus(decoding: Array(garbage.utf8)) == .unknown, "\(garbage)")
        }
    }

    @Test(arguments: [
        ("partner.test", "partner.test"), ("[127.0.0.1]:2526", "[127.0.0.1]:2526"), ("relay.test:25", "relay.test:25"),
        ("a/b", "a%2Fb"), ("../x", "%2E.%2Fx"), (".alive", "%2Ealive"), ("", "%"), ("%", "%25"), ("a b", "a%20b"),
        ("é\n", "%C3%A9%0A"), ("[::1]:25", "[::1]:25"),
    ])
    func fileNamesStayInTheDirectoryAndApart(name: String, file: String) {
        #expect(DestinationStatus.fileName(for: name) == file)
    }

    func queue() throws -> QueueLayout {
        let layout = QueueLayout(root: try makeScratchDirectory() + "/queue")
        try layout.create()
        return layout
    }

    func write(_ status: DestinationStatus, _ destination: String, in layout: QueueLayout) throws {
        try FileIO.replaceDurably(layout.statusPath(destination), with: status.encoded, temporary: layout.statusScratch, syncing: false)
    }

    func beat(_ layout: QueueLayout, at time: Int) throws {
        try FileIO.replaceDurably(layout.statusHeartbeat, with: [], temporary: layout.statusScratch, syncing: false, modified: time)
    }

    @Test func createMakesTheStatusDirectoryPrivate() throws {
        let layout = try queue()
        let info = try #require(try FileIO.status(layout.status))
        #expect(info.st_mode & 0o7777 == 0o700)
        #expect(FileIO.directoryName(of: layout.statusPath("../../x")) == layout.status)
    }

    /// Three probe intervals after the last heartbeat a status still counts; one second later it is unknown.
    @Test func aStatusCountsWhileTheHeartbeatIsFresh() throws {
        let layout = try queue()
        let relay = "[127.0.0.1]:2526", beat = 1_000_000, interval = 5
        let down = DestinationStatus.down(since: beat - 100, lastAnswer: "connect: Connection refused")
        try write(down, relay, in: layout)
        #expect(DestinationStatus.read(layout: layout, destination: relay, probeInterval: interval, now: beat) == .unknown,
                "no heartbeat: quail-send never ran")
        try self.beat(layout, at: beat)
        #expect(DestinationStatus.read(layout: layout, destination: relay, probeInterval: interval, now: beat) == down)
        #expect(DestinationStatus.read(layout: layout, destination: relay, probeInterval: interval, now: beat + 3 * interval) == down)
        #expect(DestinationStatus.read(layout: layout, destination: relay, probeInterval: interval, now: beat + 3 * interval + 1) == .unknown)
        #expect(DestinationStatus.read(layout: layout, destination: "other.test", probeInterval: interval, now: beat) == .unknown)
        let up = DestinationStatus.up(since: beat, lastAnswer: "250 ok")
        try write(up, relay, in: layout)
        #expect(DestinationStatus.read(layout: layout, destination: relay, probeInterval: interval, now: beat + 1) == up)
    }
}
