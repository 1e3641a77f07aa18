import COpenSSL
import Glibc

/// An OpenSSL context: the settings every TLS connection of one side shares. TLS 1.2 at least; certificates
/// and keys from PEM files. Made per connection on the server side (so a renewed `servercert.pem` takes
/// effect on the next connection) and per worker on the client side.
public final class TLSContext {
    let context: OpaquePointer

    private init(method: OpaquePointer?) throws(TLSError) {
        guard let method, let context = SSL_CTX_new(method) else { throw .setup(TLSError.openSSLText("SSL_CTX_new failed")) }
        self.context = context
        guard quail_ssl_ctx_set_min_tls12(context) == 1 else { throw .setup(TLSError.openSSLText("cannot require TLS 1.2")) }
        _ = quail_ssl_ctx_set_partial_writes(context)
    }

    deinit { SSL_CTX_free(context) }

    /// The server's context for the file at `path` as it is now: the one made for it before while the file is
    /// the same (device, inode, size, modification time), else a new one. A session process serves many
    /// connections; making a context and reading the PEM file is most of a STARTTLS's own work, and a renewed
    /// file (replaced by rename, or rewritten) is a different file by those marks, so it serves the next connection.
    public static func server(certificateFile path: String) throws(TLSError) -> TLSContext {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .setup("\(path): \(Errno.current)") }
        let marks = [UInt64(info.st_dev), UInt64(info.st_ino), UInt64(info.st_size), UInt64(info.st_mtim.tv_sec), UInt64(info.st_mtim.tv_nsec)]
        if let cached = ServerContextCache.entry, cached.path == path, cached.marks == marks { return cached.context }
        let context = try loadServer(certificateFile: path)
        ServerContextCache.entry = (path, marks, context)
        return context
    }

    /// The server's context: the certificate chain and its private key, both in the PEM file at `path`
    /// (`control/servercert.pem`: the chain first, the key anywhere in the file).
    static func loadServer(certificateFile path: String) throws(TLSError) -> TLSContext {
        let result = try TLSContext(method: TLS_server_method())
        _ = quail_ssl_ctx_set_server_options(result.context)
        _ = quail_ssl_ctx_no_session_cache(result.context)
        try result.useCertificate(path)
        return result
    }

    /// The client's context: the system's trust store plus the PEM certificates of `extraAuthorities`
    /// (`control/tlsca.pem`), and `certificate` (`control/clientcert.pem`: chain and key) presented when a server
    /// asks. Both come as bytes, as quail-send read them: a worker reads no control file. Verification is not made
    /// a condition of the handshake: the caller decides by the policy what an unverified certificate means
    /// (`TLSConnection.verificationFailure`).
    public static func client(extraAuthorities: [UInt8]? = nil, certificate: [UInt8]? = nil) throws(TLSError) -> TLSContext {
        let result = try TLSContext(method: TLS_client_method())
        _ = quail_ssl_ctx_set_client_options(result.context)
        SSL_CTX_set_verify(result.context, SSL_VERIFY_NONE, nil)
        guard SSL_CTX_set_default_verify_paths(result.context) == 1 else {
            throw .setup(TLSError.openSSLText("cannot load the system's trust store"))
        }
        if let extraAuthorities, !extraAuthorities.isEmpty {
            let added = extraAuthorities.withUnsafeBytes { quail_ssl_ctx_add_authorities(result.context, $0.baseAddress, Int32($0.count)) }
            guard added > 0 else { throw .setup("tlsca.pem: no certificate in it") }
        }
        if let certificate, !certificate.isEmpty {
            let used = certificate.withUnsafeBytes { quail_ssl_ctx_use_certificate_pem(result.context, $0.baseAddress, Int32($0.count)) }
            guard used == 1 else { throw .setup("clientcert.pem: " + TLSError.openSSLText("no certificate and matching key")) }
        }
        return result
    }

    private func useCertificate(_ path: String) throws(TLSError) {
        guard SSL_CTX_use_certificate_chain_file(context, path) == 1 else {
            throw .setup("\(path): " + TLSError.openSSLText("no certificate"))
        }
        guard SSL_CTX_use_PrivateKey_file(context, path, SSL_FILETYPE_PEM) == 1 else {
            throw .setup("\(path): " + TLSError.openSSLText("no private key"))
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw .setup("\(path): the private key does not match the certificate")
        }
    }
}

/// The last server context made, in this process (a session process is single-threaded).
private enum ServerContextCache {
    nonisolated(unsafe) static var entry: (path: String, marks: [UInt64], context: TLSContext)?
}
