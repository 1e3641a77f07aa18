import Glibc
import Testing

@testable import QuailCore

/// How a delivery names the next hop: the `Hup` line quail-send reads, and from it a bounce's `Remote-MTA`.
@Suite struct RemoteDeliveryTests {
    func delivery(routes: String...) throws -> RemoteDelivery {
        let path = try makeScratchDirectory()
        mkdir(path + "/control", 0o700)
        writeFile(path + "/control/smtproutes", routes.joined(separator: "\n") + "\n")
        return RemoteDelivery(config: try Configuration(home: QuailHome(path: path)), localAddresses: [])
    }

    /// An `[ip]` relay from smtproutes is named by its address literal (RFC 5321 §4.1.3), never as if the bare
    /// address were a DNS name, all the way to the bounce: `Remote-MTA: dns; [127.0.0.2]`.
    @Test(arguments: [
        ("literal.test", "[127.0.0.2]", "127.0.0.2"),
        ("six.test", "[IPv6:::1]", "::1"),
        ("spelled.test", "[IPv6:::1]", "::1"),
    ])
    func anAddressLiteralRelayIsNamedAsALiteral(domain: String, literal: String, address: String) throws {
        let delivery = try delivery(routes: "literal.test:[127.0.0.2]:2525", "six.test:[IPv6:0::1]", "spelled.test:[::1]")
        let targets = try delivery.findTargets(for: domain).get()
        #expect(targets.map(\.host) == [literal] && targets.map(\.address) == [address])
        #expect(targets[0].label == literal)

        let line = RemoteReport.Destination.up(host: targets[0].host, address: targets[0].address).line
        #expect(line == "Hup \(literal) \(address)\n")
        guard case .up(let host, _) = DestinationReport(line: String(line.dropLast())) else { return #expect(Bool(false)) }
        let report = Bounce.deliveryStatus(
            failures: [FailedRecipient(address: "u@\(domain)", diagnostic: "550 5.1.1 no such user", remoteHost: host)],
            arrival: 0, now: 0, me: "backup.test")
        #expect(report.contains("\nRemote-MTA: dns; \(literal)\n"))
    }

    @Test func aHostNameIsNamedWithItsAddress() {
        #expect(RemoteDelivery.label(host: "mx1.example.com", address: "192.0.2.1") == "mx1.example.com [192.0.2.1]")
        #expect(RemoteDelivery.label(host: "[192.0.2.1]", address: "192.0.2.1") == "[192.0.2.1]")
    }

    @Test func theLimitsFollowTheTimeouts() throws {
        let limits = try delivery().limits
        #expect(limits.addresses == 5 && limits.sessions == 2)
        #expect(limits.duration == .seconds(5 * (60 + 300)))
    }

    /// A server that takes the connection and never greets, with a 60-second reply timeout: the delivery's own
    /// deadline ends the wait, and says so.
    @Test func theDeadlineEndsADeliveryThatEveryTimeoutWouldLetRun() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 4) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        try #require(listening)
        var delivery = try delivery(routes: "slow.test:[127.0.0.1]:\(UInt16(bigEndian: address.sin_port))")
        delivery.config.timeoutRemote = 60
        delivery.limits.duration = .milliseconds(300)
        let (report, kept) = delivery.deliver(domain: "slow.test", sender: "a@b.test", recipients: ["u@slow.test"], message: Array("x\n".utf8))
        #expect(kept == nil)
        guard case .deferred(let text) = report.results.first else { return #expect(Bool(false), "\(report)") }
        #expect(text.contains("the delivery's deadline passed"), "\(text)")
    }
}
