import Glibc

/// Why talking to one remote address failed.
public enum RemoteConnectionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `connect` did not complete within `timeoutconnect`.
    case connectTimedOut
    /// `connect` failed at once or later (refused, unreachable, …).
    case connectFailed(Errno)
    /// A read or write did not progress within `timeoutremote`.
    case timedOut
    /// The delivery's own deadline passed (`DeliveryLimits.duration`).
    case deadlinePassed
    /// The server closed the connection.
    case closed
    /// What the server sent is not SMTP.
    case badReply(ReplyParseError)
    case system(String, Errno)
    /// The TLS handshake or a TLS record failed.
    case tls(TLSError)

    public var description: String {
        switch self {
        case .connectTimedOut: "connection timed out"
        case .connectFailed(let error): "connect: \(error)"
        case .timedOut: "timed out waiting for the server"
        case .deadlinePassed: "the delivery's deadline passed"
        case .closed: "connection closed by the server"
        case .badReply(let error): "unintelligible reply: \(error)"
        case .system(let call, let error): "\(call): \(error)"
        case .tls(let error): "\(error)"
        }
    }
}

/// What the client flow needs from a connection; `SMTPConnection` over TCP, or a script in tests.
public protocol SMTPTransport: AnyObject {
    /// Sends all of `bytes`.
    func send(_ bytes: [UInt8]) throws(RemoteConnectionError)
    /// Reads the next whole reply.
    func readReply() throws(RemoteConnectionError) -> ServerReply
    /// Runs the TLS handshake after the server's 220 to STARTTLS; from then on everything goes through it.
    func startTLS(_ context: TLSContext, serverName: String) throws(RemoteConnectionError)
    /// What the session's TLS is: nil in cleartext.
    var tls: TLSSummary? { get }
}

extension SMTPTransport {
    public func startTLS(_ context: TLSContext, serverName: String) throws(RemoteConnectionError) {
        throw .tls(.setup("this transport has no TLS"))
    }

    public var tls: TLSSummary? { nil }
}

/// A session's TLS as the log and the policy see it: the version and whether the certificate verified.
public struct TLSSummary: Sendable, Equatable, CustomStringConvertible {
    public var version: String
    public var cipher: String
    /// Why the certificate did not verify against the trust store and the host name; nil when it did.
    public var verificationFailure: String?
    /// Seconds until the server's certificate expires, negative once it has; nil when it sent none.
    public var certificateSecondsLeft: Int? = nil

    /// `TLSv1.3 verified`, `TLSv1.2 unverified: hostname mismatch`: what the delivery log says.
    public var description: String {
        if let verificationFailure { return "\(version) unverified: \(verificationFailure)" }
        return "\(version) verified"
    }
}

/// A TCP connection to one SMTP server with every wait bounded: `timeoutconnect` for the connect,
/// `timeoutremote` for each reply and for each step of progress while sending. Closed on deinit.
public final class SMTPConnection: SMTPTransport {
    public let fd: Int32
    let timeout: Duration
    /// When the delivery using this connection must end: no wait goes past it. Nil between deliveries.
    public var deadline: ContinuousClock.Instant?
    /// Whether the server has sent a whole reply on this connection (its greeting, at least).
    public private(set) var hasReplied = false
    private var parser = ReplyParser()
    /// What one `recv` fills: made once per connection, not once per reply (pipelined replies mostly come in one).
    private var received = [UInt8](repeating: 0, count: 4096)
    /// The session's TLS, once STARTTLS succeeded; every byte then goes through it.
    private var session: TLSConnection?
    public private(set) var tls: TLSSummary?

    private init(fd: Int32, timeout: Duration) {
        self.fd = fd
        self.timeout = timeout
    }

    /// Takes over `fd`, a connected socket (a session kept open by an earlier delivery); non-blocking from here.
    public convenience init(adopting fd: Int32, timeout: Duration) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        self.init(fd: fd, timeout: timeout)
    }

    deinit { close(fd) }

    /// Connects to `address` (IPv4 or IPv6 text) on `port`; non-blocking connect then poll, so a silent
    /// address costs `connectTimeout` at most.
    public static func open(to address: String, port: Int, connectTimeout: Duration, replyTimeout: Duration,
                            deadline: ContinuousClock.Instant? = nil) throws(RemoteConnectionError) -> SMTPConnection
    {
        guard let octets = DNSAddress.octets(address), let port = UInt16(exactly: port) else {
            throw .connectFailed(Errno(rawValue: EINVAL))
        }
        let server = SocketAddress(octets: octets, port: port)
        let kind = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)
        let fd = socket(octets.count == 4 ? AF_INET : AF_INET6, kind, 0)
        guard fd >= 0 else { throw .system("socket", .current) }
        // From here on the connection owns fd; a throw closes it through deinit.
        let connection = SMTPConnection(fd: fd, timeout: replyTimeout)
        connection.deadline = deadline
        if server.withSockaddr({ Glibc.connect(fd, $0, $1) }) != 0 {
            guard errno == EINPROGRESS else { throw .connectFailed(.current) }
            guard try connection.wait(for: Int16(POLLOUT), until: .now + connectTimeout) else {
                throw connection.pastDeadline ? .deadlinePassed : .connectTimedOut
            }
            var failure: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length)
            guard failure == 0 else { throw .connectFailed(Errno(rawValue: failure)) }
        }
        return connection
    }

    /// Whether the delivery's deadline has passed.
    private var pastDeadline: Bool { deadline.map { $0 <= .now } ?? false }

    /// Waits until `events` are ready (true) or `until` or the delivery's deadline passes (false).
    private func wait(for events: Int16, until: ContinuousClock.Instant) throws(RemoteConnectionError) -> Bool {
        let deadline = self.deadline.map { min($0, until) } ?? until
        while true {
            let left = deadline - .now
            guard left > .zero else { return false }
            let (seconds, attoseconds) = left.components
            let milliseconds = Int32(min(seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1, 3_600_000))
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, milliseconds)
            if ready > 0 { return true }
            if ready < 0, errno != EINTR { throw .system("poll", .current) }
        }
    }

    /// Sends everything; waits (`timeoutremote` for each step of progress) only when the socket's buffer is full,
    /// which for commands and most messages is never.
    public func send(_ bytes: [UInt8]) throws(RemoteConnectionError) {
        if let session {
            let until = deadline.map { min($0, .now + timeout) } ?? .now + timeout
            do { try session.write(bytes, deadline: until) } catch {
                throw error == .closed ? .closed : error == .timedOut ? (pastDeadline ? .deadlinePassed : .timedOut) : .tls(error)
            }
            return
        }
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count >= 0 {
                sent += count
            } else if errno == EPIPE || errno == ECONNRESET {
                throw .closed
            } else if errno == EAGAIN {
                guard try wait(for: Int16(POLLOUT), until: .now + timeout) else {
                    throw pastDeadline ? .deadlinePassed : .timedOut
                }
            } else if errno != EINTR {
                throw .system("send", .current)
            }
        }
    }

    public func readReply() throws(RemoteConnectionError) -> ServerReply {
        let deadline = ContinuousClock.now + timeout
        while true {
            do {
                if let reply = try parser.next() {
                    hasReplied = true
                    return reply
                }
            } catch {
                throw .badReply(error)
            }
            if let session {
                // The delivery's own deadline, when it comes first, bounds the wait as it does in cleartext.
                let until = self.deadline.map { min($0, deadline) } ?? deadline
                let count: Int
                do {
                    count = try received.withUnsafeMutableBytes { buffer in
                        Result { () throws(TLSError) in try session.read(into: buffer, deadline: until) }
                    }.get()
                } catch {
                    throw error == .timedOut ? (pastDeadline ? .deadlinePassed : .timedOut) : .tls(error)
                }
                guard count > 0 else { throw .closed }
                parser.append(received[..<count])
                continue
            }
            guard try wait(for: Int16(POLLIN), until: deadline) else { throw pastDeadline ? .deadlinePassed : .timedOut }
            let count = received.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                parser.append(received[..<count])
            } else if count == 0 || errno == ECONNRESET {
                throw .closed
            } else if errno != EAGAIN && errno != EINTR {
                throw .system("recv", .current)
            }
        }
    }

    /// The handshake after the server's 220 to STARTTLS, bounded by `timeoutremote`, with `serverName` as SNI and
    /// as the name the certificate must carry. Whatever the server sent after its 220 is dropped, as RFC 3207
    /// asks of both sides.
    public func startTLS(_ context: TLSContext, serverName: String) throws(RemoteConnectionError) {
        parser = ReplyParser()
        do {
            let connection = try TLSConnection(context, readFD: fd, writeFD: fd, serverName: serverName)
            try connection.connect(deadline: deadline.map { min($0, .now + timeout) } ?? .now + timeout)
            session = connection
            tls = TLSSummary(version: connection.version, cipher: connection.cipher,
                             verificationFailure: connection.verificationFailure,
                             certificateSecondsLeft: connection.peerCertificateSecondsLeft)
        } catch {
            throw .tls(error)
        }
    }
}
