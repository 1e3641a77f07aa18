import Glibc
import Testing

@testable import QuailCore

/// quail-send's rehearsal of a remote delivery, run once so that forked deliveries find the runtime's type caches
/// filled: it must run the whole delivery path, and reach nothing but its own scripted server.
@Suite struct RehearsalTests {
    @Test func deliversTwiceToItsOwnServerAndReachesNothingElse() throws {
        // A catch-all smarthost and a resolver on loopback that would see any attempt to reach them.
        let relay = try LoopbackSocket(type: SOCK_STREAM)
        let resolver = try LoopbackSocket(type: SOCK_DGRAM)
        let path = try makeScratchDirectory()
        mkdir(path + "/control", 0o700)
        writeFile(path + "/control/smtproutes", ":[127.0.0.1]:\(relay.port)\n")
        writeFile(path + "/control/resolvers", "127.0.0.1:\(resolver.port)\n")
        let config = try Configuration(home: QuailHome(path: path))

        // Two messages: one on a fresh session, one on the session kept from it (the path most deliveries take).
        #expect(RemoteDelivery.rehearse(config: config) == 2)
        #expect(!relay.isReadable, "the rehearsal connected to the smarthost")
        #expect(!resolver.isReadable, "the rehearsal asked the resolver")
        // What it leaves behind (sockets, children) is checked on quail-send itself: ConnectionReuseTests.
    }
}

/// A socket bound to 127.0.0.1 on a port of the kernel's choosing (listening, for a stream socket).
final class LoopbackSocket {
    let fd: Int32
    let port: Int

    init(type: __socket_type) throws {
        let fd = socket(AF_INET, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Errno.current }
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        guard SocketAddress(octets: [127, 0, 0, 1], port: 0).withSockaddr({ bind(fd, $0, $1) }) == 0,
              withUnsafeMutablePointer(to: &bound, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }) == 0,
              type != SOCK_STREAM || listen(fd, 8) == 0 else {
            let error = Errno.current
            close(fd)
            throw error
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: bound.sin_port))
    }

    /// A connection waits to be accepted, or a datagram to be read.
    var isReadable: Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 1
    }

    deinit { close(fd) }
}
