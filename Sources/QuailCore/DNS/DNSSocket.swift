import Glibc

/// Why one exchange with one server failed; each one sends the resolver on to its next try.
enum DNSTransportError: Error, Sendable, Hashable, CustomStringConvertible {
    case timedOut
    /// The server closed a TCP connection before the whole answer came.
    case closed
    case system(String, Errno)

    var description: String {
        switch self {
        case .timedOut: "timed out"
        case .closed: "connection closed early"
        case .system(let call, let error): "\(call): \(error)"
        }
    }
}

/// A non-blocking UDP or TCP socket connected to one DNS server, with every wait bounded by a deadline.
struct DNSSocket: ~Copyable {
    let fd: Int32
    let deadline: ContinuousClock.Instant

    private init(fd: Int32, deadline: ContinuousClock.Instant) {
        self.fd = fd
        self.deadline = deadline
    }

    /// Opens a socket and connects it; a TCP connect completes (or fails) within the deadline.
    static func open(to server: DNSServer, stream: Bool, deadline: ContinuousClock.Instant) throws(DNSTransportError)
        -> DNSSocket
    {
        let family = server.octets.count == 4 ? AF_INET : AF_INET6
        let kind =
            Int32(stream ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue)
            | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)
        let fd = socket(family, kind, 0)
        guard fd >= 0 else { throw .system("socket", .current) }
        let socket = DNSSocket(fd: fd, deadline: deadline)
        // Thrown past here, `socket` is destroyed and its deinit closes the descriptor.
        try socket.connect(to: server, stream: stream)
        return socket
    }

    /// A connected UDP socket only receives from that server, and learns of a closed port (ICMP) at once.
    private func connect(to server: DNSServer, stream: Bool) throws(DNSTransportError) {
        if server.withSocketAddress({ Glibc.connect(fd, $0, $1) }) == 0 { return }
        guard stream, errno == EINPROGRESS else { throw .system("connect", .current) }
        try wait(for: Int16(POLLOUT))
        var failure: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length)
        guard failure == 0 else { throw .system("connect", Errno(rawValue: failure)) }
    }

    deinit { close(fd) }

    /// Waits until the socket is ready for `events`, or throws `.timedOut` at the deadline.
    func wait(for events: Int16) throws(DNSTransportError) {
        while true {
            let left = deadline - .now
            guard left > .zero else { throw .timedOut }
            let milliseconds = Int32(
                min(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1, 60_000))
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0, errno != EINTR { throw .system("poll", .current) }
        }
    }

    /// Sends all of `bytes`: one datagram on UDP, as many writes as it takes on TCP.
    func send(_ bytes: [UInt8]) throws(DNSTransportError) {
        var sent = 0
        while sent < bytes.count {
            try wait(for: Int16(POLLOUT))
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count >= 0 {
                sent += count
            } else if errno != EAGAIN && errno != EINTR {
                throw .system("send", .current)
            }
        }
    }

    /// Receives one datagram of at most `limit` octets, or on TCP whatever has arrived, up to `limit`.
    func receive(limit: Int) throws(DNSTransportError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: limit)
        while true {
            try wait(for: Int16(POLLIN))
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 { return Array(buffer.prefix(count)) }
            if count == 0 { throw .closed }
            if errno != EAGAIN && errno != EINTR { throw .system("recv", .current) }
        }
    }

    /// Reads exactly `count` octets from a TCP stream.
    func receiveExactly(_ count: Int) throws(DNSTransportError) -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < count { bytes += try receive(limit: count - bytes.count) }
        return bytes
    }
}
