import Glibc
import Testing

@testable import QuailCore

@Suite struct SocketAddressTests {
    @Test func parsesTheListenerAndResolverForms() {
        #expect(SocketAddress(parsing: "127.0.0.1:2525") == SocketAddress(octets: [127, 0, 0, 1], port: 2525))
        #expect(SocketAddress(parsing: "127.0.0.1:0")?.port == 0)
        #expect(SocketAddress(parsing: "[::1]:25")?.description == "[::1]:25")
        #expect(SocketAddress(parsing: "127.0.0.1") == nil, "a listener needs a port")
        #expect(SocketAddress(parsing: "127.0.0.1", defaultPort: 53)?.port == 53)
        #expect(SocketAddress(parsing: "::1", defaultPort: 53)?.isIPv6 == true)
        #expect(SocketAddress(parsing: "mx.example.test:25") == nil)
        #expect(SocketAddress(parsing: "[::1]25") == nil)
        #expect(SocketAddress(parsing: "127.0.0.1:70000") == nil)
    }

    @Test func readsBackWhatABoundSocketIs() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        let wanted = SocketAddress(octets: [127, 0, 0, 1], port: 0)
        #expect(wanted.withSockaddr { bind(fd, $0, $1) } == 0)
        let bound = try #require(SocketAddress.of(fd, peer: false))
        #expect(bound.host == "127.0.0.1" && bound.port != 0)
    }
}
