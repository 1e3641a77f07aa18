import COpenSSL

/// Why TLS could not be set up or went wrong; the text is OpenSSL's own, for the log.
public enum TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A context could not be made: a certificate or key file that does not load, no memory.
    case setup(String)
    /// The handshake failed: the peer's alert, a protocol error, a version below TLS 1.2.
    case handshake(String)
    /// The deadline passed while waiting for the peer.
    case timedOut
    /// The peer closed the connection (or it broke).
    case closed
    /// A record could not be read or written after the handshake.
    case io(String)

    public var description: String {
        switch self {
        case .setup(let text): "TLS set-up: \(text)"
        case .handshake(let text): "TLS handshake: \(text)"
        case .timedOut: "TLS: timed out"
        case .closed: "TLS: connection closed"
        case .io(let text): "TLS: \(text)"
        }
    }

    /// The oldest error OpenSSL queued on this thread, as text, and the queue cleared; `fallback` when none.
    static func openSSLText(_ fallback: String) -> String {
        let code = ERR_get_error()
        defer { ERR_clear_error() }
        guard code != 0 else { return fallback }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
