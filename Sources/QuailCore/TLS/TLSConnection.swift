import COpenSSL
import Glibc

/// One TLS connection over a connected socket, every wait bounded by a deadline. The descriptors are made
/// non-blocking; OpenSSL reads and writes them itself.
public final class TLSConnection {
    let ssl: OpaquePointer
    let readFD: Int32
    let writeFD: Int32

    /// The connection on `readFD` and `writeFD` (the same socket, or stdin and stdout under tcpserver).
    /// `serverName`, on the client side, goes out as SNI and is the name the certificate must match.
    public init(_ context: TLSContext, readFD: Int32, writeFD: Int32, serverName: String? = nil) throws(TLSError) {
        guard let ssl = SSL_new(context.context) else { throw .setup(TLSError.openSSLText("SSL_new failed")) }
        self.ssl = ssl
        self.readFD = readFD
        self.writeFD = writeFD
        for fd in Set([readFD, writeFD]) { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        guard SSL_set_rfd(ssl, readFD) == 1, SSL_set_wfd(ssl, writeFD) == 1 else {
            throw .setup(TLSError.openSSLText("cannot attach the socket"))
        }
        if let serverName {
            if let address = RemoteRoute.literalAddress(serverName) {
                // An address literal is no name for SNI (RFC 6066 §3); the certificate must carry the address.
                _ = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), address)
            } else {
                _ = quail_ssl_set_server_name(ssl, serverName)
                _ = SSL_set1_host(ssl, serverName)
            }
        }
    }

    deinit { SSL_free(ssl) }

    /// The server's side of the handshake.
    public func accept(deadline: ContinuousClock.Instant) throws(TLSError) {
        do { _ = try perform(deadline) { SSL_accept($0) } } catch { throw Self.asHandshake(error) }
    }

    /// The client's side of the handshake.
    public func connect(deadline: ContinuousClock.Instant) throws(TLSError) {
        do { _ = try perform(deadline) { SSL_connect($0) } } catch { throw Self.asHandshake(error) }
    }

    private static func asHandshake(_ error: TLSError) -> TLSError {
        if case .io(let text) = error { return .handshake(text) }
        return error
    }

    /// Reads what is there, up to `buffer.count` bytes, waiting until `deadline` for something; 0 when the peer
    /// has closed.
    public func read(into buffer: UnsafeMutableRawBufferPointer, deadline: ContinuousClock.Instant) throws(TLSError) -> Int {
        guard buffer.count > 0 else { return 0 }
        do {
            return try Int(perform(deadline) { SSL_read($0, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max)))) })
        } catch {
            if error == .closed { return 0 }
            throw error
        }
    }

    /// Writes all of `bytes`, waiting until `deadline` at most for the peer to take them.
    public func write(_ bytes: UnsafeRawBufferPointer, deadline: ContinuousClock.Instant) throws(TLSError) {
        var offset = 0
        while offset < bytes.count {
            let base = bytes.baseAddress! + offset
            let count = Int32(min(bytes.count - offset, 1 << 20))
            offset += Int(try perform(deadline) { SSL_write($0, base, count) })
        }
    }

    public func write(_ bytes: [UInt8], deadline: ContinuousClock.Instant) throws(TLSError) {
        try bytes.withUnsafeBytes { buffer in Result { () throws(TLSError) in try write(buffer, deadline: deadline) } }.get()
    }

    /// Decrypted bytes already held by OpenSSL: a `poll` on the socket would not show them.
    public var hasPendingInput: Bool { SSL_pending(ssl) > 0 }

    /// Sends close_notify without waiting for the peer's; the socket is the caller's to close.
    public func shutdown() {
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    /// `TLSv1.3` and the like.
    public var version: String { String(cString: SSL_get_version(ssl)) }

    /// The cipher suite's name, `TLS_AES_256_GCM_SHA384` and the like.
    public var cipher: String {
        guard let cipher = SSL_get_current_cipher(ssl) else { return "none" }
        return String(cString: SSL_CIPHER_get_name(cipher))
    }

    /// Whether the peer's certificate chains to a trusted authority and matches the name given at `init`; nil when
    /// it did, else why not (OpenSSL's reason: "certificate has expired", "hostname mismatch", ...).
    public var verificationFailure: String? {
        guard let certificate = SSL_get1_peer_certificate(ssl) else { return "no certificate" }
        X509_free(certificate)
        let result = SSL_get_verify_result(ssl)
        guard result != X509_V_OK else { return nil }
        return String(cString: X509_verify_cert_error_string(result))
    }

    /// Seconds from now until the peer's certificate expires (its notAfter), negative once it has; nil when the peer
    /// sent none.
    public var peerCertificateSecondsLeft: Int? {
        guard let certificate = SSL_get0_peer_certificate(ssl), let notAfter = X509_get0_notAfter(certificate) else {
            return nil
        }
        var days: Int32 = 0
        var seconds: Int32 = 0
        guard ASN1_TIME_diff(&days, &seconds, nil, notAfter) == 1 else { return nil }
        return Int(days) * 86400 + Int(seconds)
    }

    /// Runs `operation` until it succeeds, waiting for the socket as OpenSSL asks, until `deadline`.
    private func perform(_ deadline: ContinuousClock.Instant, _ operation: (OpaquePointer) -> Int32) throws(TLSError) -> Int32 {
        while true {
            ERR_clear_error()
            let result = operation(ssl)
            if result > 0 { return result }
            let failure = SSL_get_error(ssl, result)
            let savedErrno = errno
            switch failure {
            case SSL_ERROR_WANT_READ: try wait(readFD, Int16(POLLIN), deadline)
            case SSL_ERROR_WANT_WRITE: try wait(writeFD, Int16(POLLOUT), deadline)
            case SSL_ERROR_ZERO_RETURN: throw .closed
            case SSL_ERROR_SYSCALL:
                if savedErrno == EINTR || savedErrno == EAGAIN { continue }
                let text = TLSError.openSSLText("")
                if text.isEmpty { throw .closed }
                throw .io(text)
            default:
                throw .io(TLSError.openSSLText("error \(failure)"))
            }
        }
    }

    private func wait(_ fd: Int32, _ events: Int16, _ deadline: ContinuousClock.Instant) throws(TLSError) {
        while true {
            let left = deadline - .now
            guard left > .zero else { throw .timedOut }
            let (seconds, attoseconds) = left.components
            let milliseconds = Int32(min(seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1, 3_600_000))
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw .io("poll: \(Errno.current)") }
        }
    }
}
