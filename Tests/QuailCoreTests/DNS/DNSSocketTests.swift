import Glibc
import Testing

@testable import QuailCore

@Suite struct DNSSocketTests {
    func openDescriptors() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        var count = 0
        while readdir(directory) != nil { count += 1 }
        return count
    }

    @Test func failedConnectsCloseTheirDescriptors() {
        // Port 1 on loopback: nothing listens, so every TCP connect is refused.
        let server = DNSServer(octets: [127, 0, 0, 1], port: 1)
        let before = openDescriptors()
        for _ in 0..<300 {
            #expect(throws: DNSTransportError.self) {
                _ = try DNSSocket.open(to: server, stream: true, deadline: .now + .seconds(1))
            }
        }
        // Other tests run beside this one and open descriptors of their own: allow for them, not for 300.
        #expect(openDescriptors() - before < 100)
    }

    @Test func deadlinesBoundEveryWait() {
        // A UDP socket to a port that never answers (and may not even refuse): receive gives up on time.
        let server = DNSServer(octets: [127, 0, 0, 1], port: 9)
        let started = ContinuousClock.now
        do {
            let socket = try DNSSocket.open(to: server, stream: false, deadline: .now + .milliseconds(200))
            _ = try socket.receive(limit: 512)
            Issue.record("received something from the discard port")
        } catch {
            #expect(error == .timedOut)
        }
        #expect(ContinuousClock.now - started < .seconds(1))
    }
}
